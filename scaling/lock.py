"""One process at a time per run: an advisory file lock that dies with its holder.

``fcntl.flock`` locks are released by the kernel when the holding process exits for any reason
(``kill -9`` included), so a lock left behind by a killed grid worker is taken over by the next
process without any staleness heuristics; the lock file itself stays and records who held it last
(pid, host, time) for humans. POSIX advisory locks also work on the NFS mounts SLURM clusters use.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

LOCK = "LOCK"


class RunLocked(Exception):
    """Another live process holds the run."""


class RunLock:
    """Context manager holding ``<run_dir>/LOCK``; raises :class:`RunLocked` if it is taken."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            os.close(fd)
            who = f" by pid {holder.get('pid')} on {holder.get('host')}" if holder else ""
            raise RunLocked(f"{self.path.parent} is being trained{who}") from None
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": time.strftime("%Y-%m-%dT%H:%M:%S")})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
