"""The default sink: a directory of append-only JSON Lines files, one per month (UTC).

Each append opens the month's file with O_APPEND, writes the lines in one write and
fsyncs, so a checkpoint that was reported written survives a crash. The directory should
be on storage the database's administrators cannot write (another host's mount, a WORM
volume, a directory a separate user owns with `chattr +a`): docs/operations.md.
"""

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

from .base import CheckpointSink, SinkError, StoredLine

PREFIX, SUFFIX = "checkpoints-", ".jsonl"


class DirectorySink(CheckpointSink):
    name = "directory"

    def __init__(self, directory: Path, now=None):
        self.directory = Path(directory)
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))

    def describe(self) -> str:
        return str(self.directory)

    def _current(self) -> Path:
        return self.directory / f"{PREFIX}{self._now():%Y-%m}{SUFFIX}"

    def append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        if any(b"\n" in line or b"\r" in line for line in lines):
            raise SinkError("a checkpoint line may not contain a line break")
        path = self._current()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            created = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                payload = b"".join(line + b"\n" for line in lines)
                size = os.fstat(fd).st_size
                if size and not _ends_with_newline(path, size):
                    # A torn line from an earlier crash stays visible to `audit verify`,
                    # but must not swallow the first of these.
                    payload = b"\n" + payload
                view = memoryview(payload)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_directory(self.directory)
        except OSError as exc:
            raise SinkError(f"cannot append to {path}: {exc.strerror or exc}") from None

    def read(self) -> Iterator[StoredLine]:
        if not self.directory.exists():
            return
        try:
            files = sorted(p for p in self.directory.iterdir()
                           if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX) and p.is_file())
        except OSError as exc:
            raise SinkError(f"cannot read {self.directory}: {exc.strerror or exc}") from None
        for path in files:
            try:
                with open(path, "rb") as fh:  # line by line: a year of checkpoints need not fit in memory
                    for number, raw in enumerate(fh, start=1):
                        complete = raw.endswith(b"\n")
                        line = raw.rstrip(b"\n")
                        if line.strip() or not complete:
                            yield StoredLine(f"{path.name}:{number}", line, complete)
            except OSError as exc:
                raise SinkError(f"cannot read {path}: {exc.strerror or exc}") from None


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as fh:
        fh.seek(size - 1)
        return fh.read(1) == b"\n"


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
