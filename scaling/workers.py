"""Worker processes that end with their parent.

A grid's local workers (``scaling grid --jobs K``) train runs handed to them by the grid process.
If that process is killed (``kill -9``, an out-of-memory kill, a closed terminal), its workers
must not live on: orphaned, they keep training, take queued runs whose results nobody collects,
then block forever on a queue, holding their runs' locks. :func:`die_with_parent`, given as the
pool's ``initializer``, ends a worker when its parent goes:

* on Linux, the kernel sends it ``SIGKILL`` when the parent dies (``prctl(PR_SET_PDEATHSIG)``,
  through ctypes; the signal follows the death of the *thread* that started the worker, which for
  a ``ProcessPoolExecutor`` is the thread blocked in the ``with`` block, or the pool's manager);
* everywhere, a daemon thread polls the parent's pid once a second and ends the process when
  the worker has been re-parented (the portable fallback, and a guard against the race where the
  parent died before ``prctl`` ran).

Killing a worker mid-run is safe: checkpoints and markers are written atomically, metrics lines
are repaired on resume, and its run lock is a ``flock`` the kernel releases (:mod:`scaling.lock`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1


def _parent_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:
            os._exit(1)  # no cleanup: the parent that would collect our results is gone


def die_with_parent(parent_pid: int, interval: float = 1.0) -> None:
    """End this process when ``parent_pid`` (its parent) exits (a pool ``initializer``)."""
    _parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, interval), daemon=True,
                     name="die-with-parent").start()
