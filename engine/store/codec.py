"""How a chunk of events is stored: a restricted pickle of plain tuples.

The store's writer encodes every event of a session, so the encoding is on the engine's
budget (it runs on a thread, but under the same GIL). JSON cost 2 µs an event, mostly float
formatting and re-encoding the same keys; a pickle of the events' fields, one flat list for
the chunk, costs a fifth of that, because pickle writes floats as 8 bytes and every
repeated object (a task's name, a data key, a state) once per chunk, then by reference.

Only plain values are written: str subclasses (the state enums in event data) become str,
mappings dict, other tuples/lists/numbers their plain type, and anything else its text (what
the JSON encoding did), with :class:`EventKind` the one class kept as is. Reading allows
exactly those classes, so a doctored database cannot run code. Chunks written as JSON by
earlier versions (``str`` rows) still decode.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from formicary.run.events import Event, EventKind

_ALLOWED = {
    ("builtins", "str"): str,
    ("builtins", "dict"): dict,
    ("builtins", "tuple"): tuple,
    ("builtins", "list"): list,
    ("builtins", "int"): int,
    ("builtins", "float"): float,
    ("formicary.run.events", "EventKind"): EventKind,
}
_new_event = partial(tuple.__new__, Event)
_FIELDS = len(Event._fields)
_KINDS = {kind.value: kind for kind in EventKind}


class _Pickler(pickle.Pickler):
    """Pickles events with only plain values (and :class:`EventKind`) inside.

    ``reducer_override`` runs in C's stead only for objects pickle has no opcode for; a
    repeated one is pickled once per chunk and referenced after.
    """

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is EventKind or isinstance(obj, type):
            return NotImplemented
        if isinstance(obj, str):
            return str, (str.__str__(obj),)
        if isinstance(obj, Mapping):
            return dict, (dict(obj),)
        if isinstance(obj, tuple):
            return tuple, (tuple(obj),)
        if isinstance(obj, list):
            return list, (list(obj),)
        if isinstance(obj, int) and not isinstance(obj, bool):
            return int, (int(obj),)
        if isinstance(obj, float):
            return float, (float(obj),)
        if isinstance(obj, (bytes, bytearray, set, frozenset, bool)) or obj is None:
            return NotImplemented
        return str, (str(obj),)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in events") from None


def encode_fields(fields: list[Any]) -> bytes:
    """One chunk from the events' fields laid end to end (seven per event, in
    :class:`Event`'s order), pickled as that one flat list."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=5).dump(fields)
    return buffer.getvalue()


def decode_fields(chunk: bytes) -> list[Any]:
    """The fields of a chunk made by :func:`encode_fields`, laid end to end as they were."""
    fields: list[Any] = _Unpickler(io.BytesIO(chunk)).load()
    return fields


def encode_events(events: Iterable[Event]) -> bytes:
    """One chunk from events."""
    return encode_fields([field for event in events for field in event])


def decode_events(chunk: bytes | str, session: str) -> list[Event]:
    """The events of one stored chunk (pickled, or JSON from before pickling)."""
    if isinstance(chunk, bytes):
        fields = _Unpickler(io.BytesIO(chunk)).load()
        if fields and isinstance(fields[0], tuple):  # one tuple an event (earlier in v3)
            return list(map(_new_event, fields))
        return list(map(_new_event, zip(*[iter(fields)] * _FIELDS, strict=True)))
    return [
        Event(item[0], item[1], session, _KINDS[item[3]], item[4], item[5], item[6] or {})
        for item in json.loads(chunk)
    ]
