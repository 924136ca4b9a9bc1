"""The messages between an engine and its store writer process: one class per kind.

An engine that persists its sessions talks to one writer process (:mod:`formicary.store.writer`)
over a pair of pipes (:mod:`formicary.store.writer_link` at the engine's end,
:mod:`formicary.store.frames` for the bytes). Every message is one of the
:class:`~typing.NamedTuple` classes below, built only by them, and read by matching on its class,
never by position.

Engine → writer (sent through :class:`formicary.store.writer_link.WriterLink` by a session's
:class:`formicary.store.persist.Persister`; handled by :class:`formicary.store.writer.StoreWriter`):

* :class:`Open` ``(session_id, tasks, states, owner_pid, owner_host)``: start writing a
  session, whose tasks (in definition order) are in ``states``, owned by that engine (the
  fence every transaction checks). No answer.
* :class:`Events` ``(session_id, chunk)``: a batch of the session's events, encoded by
  :func:`formicary.store.codec.encode_fields`. Answer: :class:`Written` once committed, or
  :class:`Failed`; nothing if the session is not open (or no longer the engine's).
* :class:`Close` ``(session_id)``: commit what is pending with a last snapshot and forget the
  session. Answer: :class:`Closed` (after the last commit's :class:`Written`).

Writer → engine (sent by the writer; the link hands each to the session's persister by
``session_id``, except :class:`Fatal`, which it logs):

* :class:`Written` ``(session_id, seq)``: the events up to ``seq`` are committed (answers
  :class:`Events`).
* :class:`Failed` ``(session_id, seq, text)``: a commit failed: the events up to ``seq``
  (None if the batch held none) are not stored, ``text`` says why (answers :class:`Events`
  or :class:`Close`).
* :class:`CommandTaken` ``(session_id, row)``: a control command another process queued for
  the session, taken from the store's queue (``row``: id, session, action, task, arguments
  as JSON). Unprompted, every 0.2 s at most.
* :class:`Closed` ``(session_id)``: the session is closed (answers :class:`Close`).
* :class:`Lost` ``(session_id, reason)``: another process adopted the session, so the writer
  writes nothing more for it. Unprompted.
* :class:`Fatal` ``(text)``: the writer failed as a whole and is ending. Unprompted.

On the wire a message is a plain tuple, its tag first and its fields after in the order the
class declares them (``("events", 3, b"...")``), which :mod:`formicary.store.frames` pickles behind
its length; :func:`encode` and :func:`decode` convert at the two edges. The NamedTuples themselves
do not go on the wire because pickle writes one as a reference to its class by module path
(``formicary.store.writer_protocol.Events``) plus its fields: both ends would have to import this
module under the same name, while the writer loads the package by file path (see
:mod:`formicary.store.writer_link`), and every message would carry that path and cost a class lookup
to read. A tuple of builtins is also what marshal would take, should the frames move to it
(marshal refuses tuple subclasses). Encoding is one tuple build per message, decoding one
dict lookup and one tuple build, per batch of events, not per event.

:func:`decode` refuses what is not a message of this protocol (an unknown tag, a wrong number
of fields) with :class:`ProtocolError` rather than misreading it; the writer also refuses,
the same way, a message only the writer sends.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeAlias


class ProtocolError(ValueError):
    """Something came over the writer's pipe that is not a message this end takes."""


CommandRow: TypeAlias = tuple[int, int, str, str | None, str]
"""A command as the writer takes it from the store: id, session, action, task, arguments
(JSON)."""


# -- engine → writer -----------------------------------------------------------------------


class Open(NamedTuple):
    """Start writing a session (no answer)."""

    session_id: int
    tasks: list[str]
    """The session's task names, in definition order."""
    states: list[str]
    """Each task's state when writing starts (all ``pending`` for a new session)."""
    owner_pid: int
    owner_host: str


class Events(NamedTuple):
    """A batch of a session's events (answered by :class:`Written` or :class:`Failed`)."""

    session_id: int
    chunk: bytes
    """The events' fields, as :func:`formicary.store.codec.encode_fields` makes a chunk."""


class Close(NamedTuple):
    """Commit what is pending with a last snapshot, then forget the session (answered by
    :class:`Closed`)."""

    session_id: int


# -- writer → engine -----------------------------------------------------------------------


class Written(NamedTuple):
    """The session's events up to ``seq`` are committed."""

    session_id: int
    seq: int


class Failed(NamedTuple):
    """A commit failed; the events up to ``seq`` (None: the batch held none) are not
    stored."""

    session_id: int
    seq: int | None
    text: str
    """What went wrong (a short traceback)."""


class CommandTaken(NamedTuple):
    """A control command queued for the session by another process, now taken."""

    session_id: int
    row: CommandRow


class Closed(NamedTuple):
    """The session is closed: the writer has forgotten it."""

    session_id: int


class Lost(NamedTuple):
    """Another process adopted the session: nothing more is written for it."""

    session_id: int
    reason: str


class Fatal(NamedTuple):
    """The writer failed as a whole and is ending."""

    text: str
    """What went wrong (a short traceback)."""


ToWriter: TypeAlias = Open | Events | Close
"""What an engine sends its writer."""
Reply: TypeAlias = Written | Failed | CommandTaken | Closed | Lost
"""What the writer sends about one session (handed to that session's persister)."""
FromWriter: TypeAlias = Reply | Fatal
"""What the writer sends its engine."""
Message: TypeAlias = ToWriter | FromWriter
"""Any message of the protocol."""
Wire: TypeAlias = tuple[Any, ...]
"""A message as it goes on the pipe: its tag, then its fields."""

_TAGS: dict[type[Message], str] = {
    Open: "open",
    Events: "events",
    Close: "close",
    Written: "written",
    Failed: "failed",
    CommandTaken: "command",
    Closed: "closed",
    Lost: "lost",
    Fatal: "fatal",
}
_KINDS: dict[str, tuple[type[Message], int]] = {
    tag: (kind, len(kind._fields) + 1) for kind, tag in _TAGS.items()
}
KINDS: tuple[type[Message], ...] = tuple(_TAGS)
"""Every message class, engine → writer first."""


def encode(message: Message) -> Wire:
    """``message`` as it goes on the wire: its tag, then its fields.

    Raises:
        ProtocolError: ``message`` is not an instance of one of this module's classes.
    """
    tag = _TAGS.get(type(message))
    if tag is None:
        raise ProtocolError(f"not a store writer message: {_preview(message)}")
    return (tag, *message)


def decode(wire: object) -> Message:
    """The message ``wire`` carries (made by :func:`encode`).

    Raises:
        ProtocolError: ``wire`` is not a tuple, its tag names no message, or it has not
            that message's number of fields.
    """
    if type(wire) is tuple and wire and type(wire[0]) is str and wire[0] in _KINDS:
        kind, size = _KINDS[wire[0]]
        if len(wire) == size:
            return kind._make(wire[1:])
        raise ProtocolError(
            f"a {kind.__name__} message has {size - 1} fields, not {len(wire) - 1}: "
            f"{_preview(wire)}"
        )
    raise ProtocolError(f"not a store writer message: {_preview(wire)}")


def _preview(value: object) -> str:
    """``value``'s repr, cut short: enough to say what it was without a chunk's bytes."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
