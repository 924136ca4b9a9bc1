"""Every session in the store, live, whoever runs it: watch, retry, cancel or adopt one."""

from __future__ import annotations

import asyncio
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from engine.errors import FormicaryError
from engine.store import SessionRecord
from tui.bridge import EngineBridge
from tui.screens.confirm import ConfirmScreen

_STATUS_STYLE = {
    "running": "bold",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
    "orphaned": "yellow",
    "paused": "yellow",
}


class SessionsScreen(Screen[str | None]):
    """Sessions newest first; dismisses with the id of the session to watch.

    | Key | Action |
    | :- | :- |
    | enter | Watch the session on the dashboard. |
    | r | Retry every failed task of the session. |
    | a | Adopt an orphaned session (run it in this dashboard). |
    | X | Cancel the session. |
    | escape | Back. |
    """

    BINDINGS = [
        Binding("enter", "watch", "Watch", id="sessions.watch"),
        Binding("r", "retry", "Retry failed", id="sessions.retry"),
        Binding("a", "adopt", "Adopt", id="sessions.adopt"),
        Binding("X", "cancel_session", "Cancel session", id="sessions.cancel"),
        Binding("escape,q", "back", "Back", id="sessions.back"),
        Binding("j", "cursor_down", show=False, id="sessions.down"),
        Binding("k", "cursor_up", show=False, id="sessions.up"),
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
    """

    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__()
        self.bridge = bridge
        self._records: dict[str, SessionRecord] = {}
        self._refreshing = False
        self._stale = False

    def compose(self) -> ComposeResult:
        yield Static("Sessions of this workspace (live)", id="heading")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        for column in (
            "id",
            "project",
            "workflow",
            "status",
            "started",
            "took",
            "done/failed/total",
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
        finally:
            self._refreshing = False
        table = self.query_one(DataTable)
        cursor = self._cursor_id()
        fresh = {str(record.id): record for record in records}
        for key in list(self._records):
            if key not in fresh:
                table.remove_row(key)
        for key, record in fresh.items():
            cells = _cells(record)
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

    async def _control(self, action: str) -> None:
        session_id = self._cursor_id()
        if session_id is None:
            return
        record = self._records.get(session_id)
        try:
            if record is not None and not record.owner_alive and action != "cancel":
                # Nobody runs it any more: run it here, as `formicary retry` does.
                watched = self.bridge.adopt(session_id)
            else:
                watched = await self.bridge.watch(session_id)
            outcome = await watched.control(action)
        except FormicaryError as error:
            self.notify(str(error), severity="error")
            return
        self.notify(f"session {session_id}: {outcome}")

    def action_back(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)


def _cells(record: SessionRecord) -> list[Text]:
    counts = record.counts
    failed = sum(counts.get(state, 0) for state in ("failed", "blocked", "cancelled"))
    status = record.shown_status
    started = record.started_at or record.created_at
    took = ((record.ended_at or time.time()) - record.started_at) if record.started_at else None
    return [
        Text(str(record.id)),
        Text(record.project),
        Text(record.workflow),
        Text(status, style=_STATUS_STYLE.get(status, "")),
        Text(time.strftime("%m-%d %H:%M:%S", time.localtime(started))),
        Text(f"{took:.1f}s" if took is not None else "-"),
        Text(f"{counts.get('completed', 0)}/{failed}/{record.total}"),
        Text(f"pid {record.owner_pid}" if record.owner_alive else "-"),
    ]
