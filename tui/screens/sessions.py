"""Every session in the store, live, whoever runs it: watch, retry, cancel or adopt one."""

from __future__ import annotations

import asyncio
import time

from formicary.errors import AdoptionNeeded, FormicaryError
from formicary.model.states import SessionStatus, task_tally
from formicary.store.database import SessionRecord
from formicary.tui.bridge import EngineBridge
from formicary.tui.matching import matches
from formicary.tui.screens.confirm import ConfirmScreen
from formicary.tui.screens.control_dialogs import adoption_dialog
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

_STATUS_STYLE: dict[str, str] = {
    SessionStatus.RUNNING: "bold",
    SessionStatus.COMPLETED: "green",
    SessionStatus.FAILED: "red",
    SessionStatus.CANCELLED: "magenta",
    SessionStatus.ORPHANED: "yellow",
    SessionStatus.PAUSED: "yellow",
}


class SessionsScreen(Screen[str | None]):
    """Sessions newest first; dismisses with the id of the session to watch.

    | Key | Action |
    | :- | :- |
    | enter | Watch the session on the dashboard. |
    | r | Retry every failed task of the session. |
    | a | Adopt an orphaned session (run it in this dashboard). |
    | X | Cancel the session. |
    | / | Filter by project, workflow and status (each word must match one). |
    | j / k / g / G | Next / previous / first / last session. |
    | escape | Clear the filter; else back. |
    """

    BINDINGS = [
        Binding("enter", "watch", "Watch", id="sessions.watch"),
        Binding("r", "retry", "Retry failed", id="sessions.retry"),
        Binding("a", "adopt", "Adopt", id="sessions.adopt"),
        Binding("X", "cancel_session", "Cancel session", id="sessions.cancel"),
        Binding("slash", "filter", "Filter", id="sessions.filter"),
        Binding("escape,q", "back", "Back", id="sessions.back"),
        Binding("j", "cursor_down", "Down", show=False, id="sessions.down"),
        Binding("k", "cursor_up", "Up", show=False, id="sessions.up"),
        Binding("g", "cursor_to(0)", "First", show=False, id="sessions.first"),
        Binding("G", "cursor_to(-1)", "Last", show=False, id="sessions.last"),
    ]

    DEFAULT_CSS = """
    SessionsScreen #heading {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-style: bold;
    }
    SessionsScreen DataTable {
        height: 1fr;
    }
    SessionsScreen #filter {
        display: none;
        height: 3;
    }
    SessionsScreen #filter.shown {
        display: block;
    }
    """

    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__()
        self.bridge = bridge
        self._records: dict[str, SessionRecord] = {}
        self._refreshing = False
        self._stale = False
        self._filter: list[str] = []
        """Lower-case words; a session is shown when each matches its project, workflow or
        status (by prefix, substring or subsequence)."""

    def compose(self) -> ComposeResult:
        yield Static("Sessions of this workspace (live)", id="heading")
        yield Input(placeholder="filter: project, workflow or status (fail, data…)", id="filter")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        for column in (
            "id",
            "project",
            "workflow",
            "status",
            "started",
            "took",
            "done/failed/other/total",
            "owner",
        ):
            table.add_column(column, key=column)
        yield table
        yield Footer()

    async def on_mount(self) -> None:
        self.bridge.start_watching()
        await self.reload()
        self.query_one(DataTable).focus()

    async def store_changed(self) -> None:
        """The store changed on disk: show the news (one reload at a time; a change that
        arrives during a reload is shown by one more reload after it)."""
        if self._refreshing:
            self._stale = True
            return
        await self.reload()
        while self._stale:
            self._stale = False
            await self.reload()

    async def reload(self) -> None:
        """Read the sessions and update the table in place."""
        if not self.bridge.has_store():
            return
        self._refreshing = True
        try:
            records = await asyncio.to_thread(self.bridge.store.sessions, 500)
            active = await asyncio.to_thread(self.bridge.store.active_seconds, records)
        finally:
            self._refreshing = False
        records = [record for record in records if self._shown(record)]
        table = self.query_one(DataTable)
        cursor = self._cursor_id()
        fresh = {str(record.id): record for record in records}
        for key in list(self._records):
            if key not in fresh:
                table.remove_row(key)
        for key, record in fresh.items():
            cells = _cells(record, active.get(record.id))
            if key in self._records:
                for column, value in zip(table.columns, cells, strict=True):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)
        if [str(r.id) for r in records] != [str(k.value) for k in table.rows]:
            table.sort("id", key=lambda cell: -int(cell.plain))
        self._records = fresh
        if cursor in fresh:
            table.move_cursor(row=table.get_row_index(cursor))

    def _shown(self, record: SessionRecord) -> bool:
        fields = (record.project, record.workflow, record.shown_status)
        return all(matches(word, *fields) for word in self._filter)

    def action_filter(self) -> None:
        """Show the filter box."""
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    @on(Input.Changed, "#filter")
    async def filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.lower().split()
        await self.store_changed()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.query_one(DataTable).focus()

    def action_cursor_to(self, row: int) -> None:
        """Put the cursor on row ``row`` (-1: the last)."""
        table = self.query_one(DataTable)
        table.move_cursor(row=row if row >= 0 else table.row_count - 1)

    def _cursor_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(key.value)

    def action_cursor_down(self) -> None:
        """Next session."""
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        """Previous session."""
        self.query_one(DataTable).action_cursor_up()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_watch()

    def action_watch(self) -> None:
        """Show the session under the cursor on the dashboard."""
        session_id = self._cursor_id()
        if session_id is not None:
            self.dismiss(session_id)

    async def action_retry(self) -> None:
        """Retry the failed tasks of the session under the cursor."""
        await self._control("retry_failed")

    async def action_adopt(self) -> None:
        """Run an orphaned session in this dashboard."""
        session_id = self._cursor_id()
        if session_id is None:
            return
        record = self._records.get(session_id)
        if record is not None and record.shown_status != SessionStatus.ORPHANED:
            self.notify(
                f"session {session_id} is {record.shown_status}: only a session whose engine "
                "died can be adopted",
                severity="warning",
            )
            return
        try:
            self.bridge.adopt(session_id)
        except FormicaryError as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"session {session_id} adopted: it runs in this dashboard now")
        self.dismiss(session_id)

    def action_cancel_session(self) -> None:
        """Cancel the session under the cursor, after asking."""
        session_id = self._cursor_id()
        if session_id is None:
            return

        async def decided(yes: bool | None) -> None:
            if yes:
                await self._control("cancel")

        self.app.push_screen(
            ConfirmScreen(
                f"Cancel session {session_id}?",
                ["Every unfinished task is cancelled; running ones are stopped."],
            ),
            decided,
        )

    async def _control(self, action: str, *, adopt: bool = False) -> None:
        """Apply a control call to the session under the cursor, wherever it runs (the
        bridge's one rule); a session whose engine died is adopted first, after asking."""
        session_id = self._cursor_id()
        if session_id is None:
            return
        try:
            watched = await self.bridge.watch(session_id)
            shown, outcome = await self.bridge.control(watched, action, adopt=adopt)
        except AdoptionNeeded as needed:

            async def decided(yes: bool | None) -> None:
                if yes:
                    await self._control(action, adopt=True)

            what = action.replace("_", " ")
            self.app.push_screen(adoption_dialog(session_id, needed.owner_pid, what), decided)
            return
        except FormicaryError as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"session {session_id}: {outcome}")
        if shown is not watched:
            self.dismiss(session_id)

    def action_back(self) -> None:
        """Clear the filter if one is shown; else back to the dashboard."""
        box = self.query_one("#filter", Input)
        if box.has_class("shown"):
            box.value = ""
            box.remove_class("shown")
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)


def _cells(record: SessionRecord, took: float | None = None) -> list[Text]:
    """The row of one session, in the columns ``formicary sessions`` prints: ``failed``
    counts failed tasks only; blocked, cancelled, skipped and unfinished ones are
    ``other``. ``took`` is the time it was active (:meth:`Store.active_seconds`)."""
    done, failed, other, total = task_tally(record.counts)
    status = record.shown_status
    started = record.started_at or record.created_at
    return [
        Text(str(record.id)),
        Text(record.project),
        Text(record.workflow),
        Text(status, style=_STATUS_STYLE.get(status, "")),
        Text(time.strftime("%m-%d %H:%M:%S", time.localtime(started))),
        Text(f"{took:.1f}s" if took is not None else "-"),
        Text(f"{done}/{failed}/{other}/{total}"),
        Text(f"pid {record.owner_pid}" if record.owner_alive else "-"),
    ]
