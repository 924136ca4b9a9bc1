"""Messages over a pipe, each a pickled tuple behind its length: how an engine and its store
writer process (:mod:`formicary.store.writer`) talk.

What is framed here is the wire form of :mod:`formicary.store.writer_protocol`'s messages: a plain
tuple, its tag first (:func:`pack` and :func:`send` encode a message; what :meth:`Reader.feed`
returns is decoded by whoever reads it, who decides what an undecodable one means).

Both ends are this package in processes that trust each other (the writer is the engine's
own child, on a private pipe), so plain pickle is fine here; the event chunks inside are
decoded with :mod:`formicary.store.codec`'s restricted unpickler all the same.
"""

from __future__ import annotations

import os
import pickle
import struct

from formicary.store.writer_protocol import Message, Wire, encode

_HEADER = struct.Struct("<I")


def pack(message: Message) -> bytes:
    """One message as it goes on the pipe: its wire tuple, pickled, behind its length."""
    payload = pickle.dumps(encode(message), protocol=5)
    return _HEADER.pack(len(payload)) + payload


def send(fd: int, message: Message) -> None:
    """Write one message to the blocking ``fd``.

    Raises:
        OSError: The other end is gone (``BrokenPipeError``) or the write failed.
    """
    data = memoryview(pack(message))
    while data:
        data = data[os.write(fd, data) :]


class Reader:
    """Cuts the bytes read from a non-blocking pipe into messages, in their wire form (see
    :func:`formicary.store.writer_protocol.decode`)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Wire]:
        """The messages completed by ``data`` (a part of one waits for the rest)."""
        buffer = self._buffer
        buffer += data
        messages: list[Wire] = []
        start = 0
        while len(buffer) - start >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, start)
            end = start + _HEADER.size + size
            if end > len(buffer):
                break
            messages.append(pickle.loads(buffer[start + _HEADER.size : end]))
            start = end
        del buffer[:start]
        return messages
