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

:func:`pmap` runs independent pieces of one command (the recipes of a backtest, the simulated
outcomes of ``--suggest``) on such workers, one per usable core.
"""

from __future__ import annotations

import ctypes
import multiprocessing
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


# --------------------------------------------------------------------------- parallel map

#: Environment variable that sets :func:`pmap`'s worker count (1: run in this process).
JOBS_ENV = "SCALING_JOBS"

_task: tuple | None = None  # (fn, items) of the pmap in progress, inherited by forked workers
_in_worker = [False]


def default_jobs() -> int:
    """Workers for :func:`pmap`: ``$SCALING_JOBS`` if set, else the usable cores."""
    from .hardware import usable_cores

    raw = os.environ.get(JOBS_ENV, "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            from .errors import ScalingError

            raise ScalingError(f"{JOBS_ENV} must be a whole number of worker processes, got "
                               f"{raw!r}") from None
    return usable_cores()


def _pmap_worker_init(parent_pid: int) -> None:
    die_with_parent(parent_pid)
    _in_worker[0] = True  # a pmap inside a worker runs serially (no processes of processes)


def _pmap_call(i: int):
    fn, items = _task
    return fn(items[i])


def pmap(fn, items, jobs: int | None = None) -> list:
    """``[fn(x) for x in items]`` on up to ``jobs`` worker processes (default
    :func:`default_jobs`), results in order.

    Workers are forked, so ``fn`` may be any callable (a closure over a loaded grid) and only
    the results travel back (they must pickle). An exception in ``fn`` is raised here. With
    one job, one item, inside a worker, or where ``fork`` is unavailable, the map runs in this
    process — the results are the same either way, so ``fn`` must not depend on shared state
    that other items change (draw random numbers from a generator seeded per item)."""
    global _task
    items = list(items)
    jobs = min(default_jobs() if jobs is None else jobs, len(items))
    if jobs <= 1 or _in_worker[0] or _task is not None or \
            "fork" not in multiprocessing.get_all_start_methods():
        return [fn(x) for x in items]
    _task = (fn, items)
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs, initializer=_pmap_worker_init, initargs=(os.getpid(),)) as pool:
            return pool.map(_pmap_call, range(len(items)), chunksize=1)
    finally:
        _task = None
