"""One running sttdesk per job table: the desktop app, ``sttdesk serve`` and
``sttdesk transcribe`` each run a coordinator, and two coordinators on one
SQLite table would each take the other's running chunks for abandoned ones
when they start (crash recovery) and hand the same chunks out twice.

The lock is an OS file lock on a file beside the table: the OS drops it when
the process ends however it ends (kill -9 included), so a crash never leaves a
stale lock behind. The file also holds the owner's pid and program name, only
to tell the user who holds it.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from .domain.errors import PermanentError

log = logging.getLogger(__name__)

#: File in the data folder that the running coordinator keeps locked.
LOCK_FILE_NAME = "coordinator.lock"


class AlreadyRunningError(PermanentError):
    """Another sttdesk process already runs jobs from this data folder."""

    code = "already_running"
    message_en = (
        "sttdesk is already running ({owner}) with the job table in {data_dir}. Add files in that "
        "program (or through its REST API), or stop it first."
    )
    message_vi = (
        "sttdesk đang chạy ({owner}) với bảng công việc trong {data_dir}. Hãy thêm tệp trong chương "
        "trình đó (hoặc qua REST API của nó), hoặc dừng nó trước."
    )


class InstanceLock:
    """Held by the one process that runs jobs from a data folder.

    Not re-entrant across objects: a second :class:`InstanceLock` on the same
    folder fails even in the same process, as a second coordinator would.
    """

    def __init__(self, data_dir: Path, *, program: str | None = None) -> None:
        self.path = Path(data_dir) / LOCK_FILE_NAME
        self._program = program or Path(sys.argv[0] or "sttdesk").name
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AlreadyRunningError` naming its holder."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            owner = _read_owner(fd)
            os.close(fd)
            raise AlreadyRunningError(
                f"{self.path} is locked by {owner}", owner=owner, data_dir=str(self.path.parent)
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()} {self._program}\n".encode())
        except OSError as exc:  # a full disk: the lock holds all the same, only the owner note is lost
            log.warning("could not write the owner into %s: %s", self.path, exc)
        self._fd = fd
        log.debug("holding %s", self.path)

    def release(self) -> None:
        """Give the lock up (also done by the OS when the process ends)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:  # a full or read-only disk must not keep the lock held
            pass
        _unlock(fd)
        os.close(fd)


def _read_owner(fd: int) -> str:
    """'pid 1234, sttdesk-gui' from the lock file, or 'another process' when unreadable."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 256).decode("utf-8", "replace").split()
    except OSError:
        text = []
    if len(text) >= 2 and text[0].isdigit():
        return f"pid {text[0]}, {text[1]}"
    return "another process"


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        # Lock a byte past the owner text so that others can still read who holds it.
        os.lseek(fd, 4096, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 4096, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
