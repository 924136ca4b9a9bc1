"""Keeping the workspace's store private to its owner: ``.formicary`` and every folder below
it are 0700, every file in it 0600. ``state.db`` holds the definitions' ``env`` values
(passwords among them) and the logs hold whatever the tasks printed.

Modes are given when a file or folder is created (``os.mkdir`` and ``os.open`` with the
mode, which the umask can only narrow), never by changing the process's umask: the tasks'
processes inherit it, and the files they create in the projects must keep the user's.
SQLite gives a database's ``-wal``, ``-shm`` and ``-journal`` files the mode of the
database file, so creating ``state.db`` 0600 before SQLite opens it covers them.

A store an older formicary made (0755 folders, 0644 files) is tightened when a process that
owns it opens it for writing (:func:`prepare_store`). Its folder open to others is the sign,
so the walk over every log happens once; afterwards an open costs a few ``stat`` calls.
Whatever this process does not own is left as it is, silently, and so is any failure to
change a mode: privacy is tightened where it can be, and never stops a run.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

STATE_DIR = ".formicary"
"""The store folder's name, in every workspace."""

DIR_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = 0o077  # the group's and others' bits
_STORE_SUFFIXES = ("", "-wal", "-shm", "-journal")

_private_folders: set[str] = set()
"""Log folders this process has already made sure of (see :func:`open_private_log`)."""


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that creates the file 0600 (an existing file keeps its
    mode)."""
    return os.open(path, flags, FILE_MODE)


def open_private_log(path: str) -> BinaryIO:
    """Open an attempt's log ``path`` to append, unbuffered, creating it 0600.

    The first time this process writes a log in a folder, the folder is made sure of (see
    :func:`private_dir`): created 0700 if missing, and tightened if the session's folder was
    created open to others (a session that is not persisted has no store to prepare it).
    Later logs in that folder cost nothing more than the open.
    """
    folder = os.path.dirname(path)
    if folder not in _private_folders:
        private_dir(folder)
        _private_folders.add(folder)
    try:
        return open(path, "ab", buffering=0, opener=private_opener)
    except FileNotFoundError:  # the folder was removed since it was made sure of
        private_dir(folder)
        return open(path, "ab", buffering=0, opener=private_opener)


def store_root(path: str | os.PathLike[str]) -> Path | None:
    """The store folder (``…/.formicary``) ``path`` is in or is, or None."""
    parts = Path(os.path.abspath(path)).parts
    if STATE_DIR not in parts:
        return None
    return Path(*parts[: parts.index(STATE_DIR) + 1])


def private_dir(path: str | os.PathLike[str]) -> None:
    """Make sure folder ``path`` exists and is private.

    Below a store folder (``.formicary``), every folder from the store folder down to
    ``path`` is created 0700 when missing and tightened to owner-only when it exists open
    to others (if this process owns it). Elsewhere only ``path`` itself is created 0700,
    and an existing folder is left alone. Missing parents above either are created as
    :func:`os.makedirs` would.

    Raises:
        OSError: A folder could not be created.
    """
    target = Path(os.path.abspath(path))
    root = store_root(target)
    top = root if root is not None else target
    top.parent.mkdir(parents=True, exist_ok=True)
    chain = [top]
    for part in target.relative_to(top).parts:
        chain.append(chain[-1] / part)
    for folder in chain:
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            if root is not None:
                _tighten(folder, follow=folder == top)


def prepare_store(db_file: str | os.PathLike[str]) -> None:
    """Make the store file ``db_file`` ready for SQLite to open for writing, privately.

    Its folder is created 0700 when missing, and the file itself 0600 (SQLite then gives its
    ``-wal``, ``-shm`` and ``-journal`` the same mode). A store folder (``.formicary``)
    found open to others was made by an older formicary: it and everything in it this
    process owns lose the group's and others' bits, once. The database's own files are
    tightened whenever they are found loose.

    Raises:
        OSError: The folder could not be created.
    """
    path = os.path.abspath(db_file)
    folder = os.path.dirname(path)
    try:
        found = os.stat(folder)
    except FileNotFoundError:
        private_dir(folder)
    else:
        if (
            os.path.basename(folder) == STATE_DIR
            and stat.S_ISDIR(found.st_mode)
            and _loose_and_mine(found)
        ):
            _chmod(folder, found)
            tighten_tree(folder)
    for suffix in _STORE_SUFFIXES:
        name = path + suffix
        try:
            info = os.lstat(name)
        except FileNotFoundError:
            if not suffix:
                _create_private(name)
            continue
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and _loose_and_mine(info):
            _chmod(name, info)


def prepare_session_logs(db_file: str | os.PathLike[str], session: int | str) -> None:
    """Create the log folder of ``session`` (``.formicary/logs/<session>``, beside the store
    file ``db_file``, as :func:`formicary.api.runtime.logs_root` names it) 0700, before the
    scheduler creates it with the umask's mode (it keeps a folder that exists as it is).

    Nothing is done for a store outside a ``.formicary`` folder, and a failure is left for
    the scheduler to meet and report.
    """
    folder = os.path.dirname(os.path.abspath(db_file))
    if os.path.basename(folder) != STATE_DIR:
        return
    with contextlib.suppress(OSError):
        private_dir(os.path.join(folder, "logs", str(session)))


def tighten_tree(folder: str | os.PathLike[str]) -> None:
    """Take the group's and others' bits off every folder and regular file below
    ``folder`` that this process owns (symbolic links are neither followed nor changed)."""
    pending = [os.fspath(folder)]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    pending.append(entry.path)
                elif not stat.S_ISREG(info.st_mode):
                    continue
                if _loose_and_mine(info):
                    _chmod(entry.path, info)


def _create_private(path: str) -> None:
    """Create the empty file ``path`` 0600 (SQLite takes an empty file for a new database);
    a failure is left for SQLite to report in its own words."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE))


def _tighten(folder: Path, *, follow: bool) -> None:
    """Tighten the existing folder ``folder`` if it is open to others and ours. ``follow``
    lets the store folder itself be a symbolic link to a folder."""
    try:
        info = os.stat(folder) if follow else os.lstat(folder)
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode) and _loose_and_mine(info):
        _chmod(folder, info)


def _loose_and_mine(info: os.stat_result) -> bool:
    return bool(info.st_mode & _OTHERS) and info.st_uid == os.geteuid()


def _chmod(path: str | os.PathLike[str], info: os.stat_result) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~_OTHERS)
