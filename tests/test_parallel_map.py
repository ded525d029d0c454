"""scaling.workers.pmap: the same results as a loop, in order, errors raised in the caller."""

import os

import pytest

from scaling.errors import ScalingError
from scaling.workers import JOBS_ENV, default_jobs, pmap


def _square_and_pid(x):
    return x * x, os.getpid()


def test_pmap_matches_a_loop_and_runs_on_workers():
    out = pmap(_square_and_pid, range(6), jobs=2)
    assert [v for v, _ in out] == [x * x for x in range(6)]
    assert all(pid != os.getpid() for _, pid in out)  # forked workers did the work


def test_pmap_with_one_job_or_one_item_runs_here():
    assert {pid for _, pid in pmap(_square_and_pid, range(3), jobs=1)} == {os.getpid()}
    assert pmap(_square_and_pid, [5], jobs=4) == [(25, os.getpid())]
    assert pmap(_square_and_pid, [], jobs=4) == []


def test_pmap_inside_a_worker_runs_serially():
    def inner(x):
        pids = {pid for _, pid in pmap(_square_and_pid, range(3), jobs=2)}
        return pids == {os.getpid()}

    assert pmap(inner, range(2), jobs=2) == [True, True]


def test_an_error_in_a_worker_reaches_the_caller():
    def fail_on_three(x):
        if x == 3:
            raise ScalingError("three is not allowed")
        return x

    with pytest.raises(ScalingError, match="three is not allowed"):
        pmap(fail_on_three, range(5), jobs=2)


def test_jobs_from_the_environment(monkeypatch):
    monkeypatch.setenv(JOBS_ENV, "1")
    assert default_jobs() == 1
    monkeypatch.setenv(JOBS_ENV, "two")
    with pytest.raises(ScalingError, match=JOBS_ENV):
        default_jobs()
