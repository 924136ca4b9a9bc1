"""What a control call came to: :class:`Outcome`, the one result every front end reads.

A control call (pause, retry, cancel…) applied here returns one; so does one queued for
another process's engine, which records its outcome in the store as text: this module is the
only place that writes and reads that text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from formicary.errors import FormicaryError, UsageError

if TYPE_CHECKING:
    from formicary.api.control import SessionHandle

_REFUSED = "error: "
_EXPIRED = "expired: "


class Outcome(NamedTuple):
    """The result of one control call.

    Attributes:
        ok: True when the call was carried out.
        message: What happened, in words ("ok", "retried: a, b") or why it was refused.
        error: The refusal as an exception, to raise where the caller wants one.
        handle: The session's handle when the call adopted it into this process (the
            caller now runs it, and follows it from there).
    """

    ok: bool
    message: str
    error: FormicaryError | None = None
    handle: SessionHandle | None = None

    @classmethod
    def done(cls, message: str = "ok") -> Outcome:
        """A call carried out."""
        return cls(True, message)

    @classmethod
    def refused(cls, error: FormicaryError) -> Outcome:
        """A call refused with ``error``."""
        return cls(False, str(error), error)

    @classmethod
    def from_stored(cls, text: str, session_id: int | str, action: str) -> Outcome:
        """The outcome another process's engine recorded for a queued command (see
        :meth:`stored`), or the expiry the store recorded when that engine stopped first."""
        if text.startswith(_REFUSED):
            return cls.refused(UsageError(text.removeprefix(_REFUSED)))
        if text.startswith(_EXPIRED):
            return cls.refused(UsageError(f"session {session_id}: {action} {text}"))
        return cls.done(text)

    @property
    def stored(self) -> str:
        """The text the store keeps for this outcome of a queued command."""
        return self.message if self.ok else _REFUSED + self.message

    def unwrap(self) -> str:
        """The message of a call carried out.

        Raises:
            FormicaryError: The refusal (a ``UsageError`` when it has no exception of its own).
        """
        if self.ok:
            return self.message
        raise self.error if self.error is not None else UsageError(self.message)
