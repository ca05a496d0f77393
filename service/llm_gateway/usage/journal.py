"""A write-ahead journal of usage records, so that a crash (SIGKILL, OOM) loses none.

Each record is appended to a file before it waits in memory for its batch: one `write` to a
file opened with `O_APPEND`, so the record is in the kernel when `append` returns and
survives the process being killed (not the machine losing power: there is no fsync per
record). Files are segments: the recorder seals the current one before it writes a batch and
deletes the sealed ones once every record they hold is in the store. A process holds a lock
on the segment it appends to, so at start a process takes over only the segments of processes
that are gone, even when several share the folder.

A crash between a batch's commit and the deletion of its segments (a few microseconds) leaves
records that are written again at the next start: a crash may count a batch twice, never lose
one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

import orjson

from llm_gateway.config.settings import StorageSettings
from llm_gateway.usage.records import UsageRecord

log = logging.getLogger(__name__)
_SUFFIX = ".usage.jsonl"


class UsageJournal:
    """The segments of usage records of one process, in a folder it may share."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        # Sealed segments, with the descriptor that holds the lock of a recovered one.
        self._sealed: list[tuple[Path, int | None]] = []
        self._path, self._fd = self._open_segment()

    def _open_segment(self) -> tuple[Path, int]:
        path = self._folder / f"{os.getpid()}-{time.time_ns()}{_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # this segment's writer is alive
        return path, fd

    def append(self, record: UsageRecord) -> None:
        """Writes one record to the current segment."""
        os.write(self._fd, orjson.dumps(record) + b"\n")

    def seal(self) -> None:
        """Ends the current segment: records appended from now on go to a new one."""
        sealed = self._path
        self._path, fd = self._open_segment()
        os.close(self._fd)
        self._fd = fd
        self._sealed.append((sealed, None))

    def release_sealed(self) -> None:
        """Deletes the sealed segments: every record they hold is in the store."""
        for path, fd in self._sealed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            if fd is not None:
                os.close(fd)
        self._sealed.clear()

    def recover(self) -> list[UsageRecord]:
        """The records of segments whose process is gone, which become sealed segments of
        this journal (released once the records are written)."""
        records: list[UsageRecord] = []
        for path in sorted(self._folder.glob(f"*{_SUFFIX}")):
            if path == self._path:
                continue
            fd = _take_over(path)
            if fd is None:
                continue
            found = _read(path)
            log.warning("recovered %d usage records from %s", len(found), path.name)
            records += found
            self._sealed.append((path, fd))
        return records

    def close(self, written: bool) -> None:
        """Closes the current segment; with `written` (every record is in the store) deletes
        it and the sealed ones, otherwise leaves them for the next start to recover."""
        os.close(self._fd)
        self._sealed.append((self._path, None))
        if written:
            self.release_sealed()
        else:
            for _, fd in self._sealed:
                if fd is not None:
                    os.close(fd)


def journal_for(settings: StorageSettings) -> UsageJournal | None:
    """The journal of a store: in `usage_journal`, or by default next to an SQLite database
    or, for PostgreSQL, in a folder of the temporary folder named after the database (so a
    journal never holds another database's records); None when it is `off`."""
    folder = settings.usage_journal
    if folder == "off":
        return None
    if folder is None and settings.database.startswith("sqlite:///"):
        folder = settings.database.removeprefix("sqlite:///") + ".usage-journal"
    elif folder is None:
        digest = hashlib.sha256(settings.database.encode()).hexdigest()[:16]
        folder = str(Path(tempfile.gettempdir()) / f"llm-gateway-usage-{digest}")
    return UsageJournal(Path(folder))


def _take_over(path: Path) -> int | None:
    """A descriptor holding the segment's lock when no live process holds it, else None
    (kept open so that another process starting now cannot take it over too)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _read(path: Path) -> list[UsageRecord]:
    records = []
    for line in path.read_bytes().splitlines():
        try:
            records.append(UsageRecord(**orjson.loads(line)))
        except (orjson.JSONDecodeError, TypeError):
            # The last line of a process killed while it wrote it.
            log.warning("skipped a torn usage record in %s", path.name)
    return records
