"""One writer per archive: an OS file lock on ``<db>.lock`` beside the database.

``kcn crawl``, ``kcn recrawl`` and scheduled crawls take it so two crawls never
write the same archive at once. It is a ``flock``: the kernel releases it when
the holder dies (even on kill -9), so a dead holder never blocks the next crawl.
The file holds the owner's pid, host and start time, only for messages; it is
emptied on a clean release, so text found there on acquiring names a holder
that died without releasing.
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1


class ArchiveLocked(RuntimeError):
    """Another process holds the archive's lock."""

    def __init__(self, message: str, holder: dict[str, str], db_path: Path) -> None:
        super().__init__(message)
        self.holder = holder
        self.db_path = db_path


def lock_path(db_path: Path | str) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".lock")


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def describe(holder: dict[str, str]) -> str:
    """``pid 123 on host, started 2026-...``, or a fallback when the file was empty."""
    if not holder.get("pid"):
        return "another process (it has not written its pid yet)"
    return f"pid {holder['pid']} on {holder.get('host', '?')}, started {holder.get('started', '?')}"


class ArchiveLock:
    """Exclusive lock on one archive; a context manager.

    ``wait``: seconds to keep trying (polling) before raising ``ArchiveLocked``.
    """

    def __init__(self, db_path: Path | str, *, wait: float = 0) -> None:
        self.db_path = Path(db_path)
        self.path = lock_path(self.db_path)
        self.wait = max(0.0, wait)
        self._fd: int | None = None

    def __enter__(self) -> "ArchiveLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._flock(fd)
            self._take_over(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _flock(self, fd: int) -> None:
        """Poll a non-blocking flock until ``wait`` runs out (a blocking one cannot time out)."""
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._locked(fd) from None
                time.sleep(min(POLL_SECONDS, left))

    def _locked(self, fd: int) -> ArchiveLocked:
        holder = _parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        waited = f" after waiting {self.wait:g} s" if self.wait else ""
        return ArchiveLocked(
            f"archive {self.db_path} is in use by {describe(holder)}{waited} "
            f"(lock file {self.path}); let that crawl finish, or stop it", holder, self.db_path)

    def _take_over(self, fd: int) -> None:
        """Log a holder that died without releasing, then write ourselves in."""
        previous = _parse(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        pid = previous.get("pid", "")
        if pid.isdigit() and int(pid) != os.getpid():
            same_host = previous.get("host") == socket.gethostname()
            if same_host and not pid_alive(int(pid)):
                logger.warning("stale lock of pid %s taken over (%s; it died holding %s)",
                               pid, describe(previous), self.path)
            else:
                logger.warning("lock file %s still named %s; taken over", self.path, describe(previous))
        owner = (f"pid={os.getpid()}\nhost={socket.gethostname()}\n"
                 f"started={datetime.now(timezone.utc).isoformat(timespec='seconds')}\n")
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner.encode(), 0)

    def release(self) -> None:
        """Empty the file (so the next holder sees a clean release), then unlock."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None
