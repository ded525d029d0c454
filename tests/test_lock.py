"""Per-run locks: exclusive while held, taken over after the holder is killed."""

import os
import signal
import subprocess
import sys
import time

import pytest

from scaling.lock import RunLock, RunLocked

HOLD = """
import sys, time
from scaling.lock import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_exclusive_within_and_across_processes(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire().release()  # free again


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=f"pid {p.pid}"):
            RunLock(tmp_path).acquire()
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        deadline = time.time() + 5
        while True:
            try:
                lock = RunLock(tmp_path).acquire()
                break
            except RunLocked:
                assert time.time() < deadline
                time.sleep(0.05)
        assert lock.holder()["pid"] == os.getpid()
        lock.release()
    finally:
        p.kill()
