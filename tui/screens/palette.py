"""The command palette: Textual's, with paging made safe.

Textual 8.2's ``OptionList._move_page`` looks up the highlighted option's line before the
list has laid its lines out, and ``PgDn`` right after opening the palette (``:`` then
``PgDn``) raised ``KeyError`` and ended the app. Other Textual apps hit the same
(kagan-sh/kagan-legacy#31). Until Textual guards it, a page move that finds no lines yet
does nothing.
"""

from __future__ import annotations

from textual.command import CommandPalette


class FormicaryPalette(CommandPalette):
    """Textual's command palette, except that paging before the list is laid out is a no-op."""

    def _action_command_list(self, action: str) -> None:
        try:
            super()._action_command_list(action)
        except (KeyError, IndexError):
            if action not in ("page_up", "page_down"):
                raise
