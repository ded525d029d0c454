"""The precision rule on mocked hardware, the calibration cache, and the grid's thread split."""

import json
import os

import pytest

from scaling import hardware as hw
from scaling.grid import GridError, GridSpec, run_grid
from scaling.hardware import (
    BF16_MIN_SPEEDUP,
    PrecisionChoice,
    PrecisionError,
    choose_cpu,
    choose_cuda,
    resolve_precision,
    threads_per_job,
)

G = 1e9


@pytest.mark.parametrize("native, rates, expect", [
    (False, None, "fp32"),                            # AVX2-only: bf16 would be emulated
    (False, {"fp32": 110 * G, "bf16": 0.8 * G}, "fp32"),
    (True, None, "bf16"),                             # native, calibration skipped
    (True, {"fp32": 150 * G, "bf16": 550 * G}, "bf16"),   # AMX: 3.7×
    (True, {"fp32": 150 * G, "bf16": 160 * G}, "fp32"),   # native but not faster: casts cost
    (True, {"fp32": 100 * G, "bf16": BF16_MIN_SPEEDUP * 100 * G}, "bf16"),  # at the threshold
])
def test_cpu_rule(native, rates, expect):
    c = choose_cpu(native, rates, "AVX512", ["avx512_bf16"])
    assert c.precision == expect
    assert c.reason.startswith("auto: CPU AVX512")
    if rates is not None and native:
        assert f"{rates['bf16'] / rates['fp32']:.1f}×" in c.reason


@pytest.mark.parametrize("cap, expect", [((9, 0), "bf16"), ((8, 0), "bf16"), ((7, 5), "fp16"),
                                         ((7, 0), "fp16"), ((6, 1), "fp32")])
def test_cuda_rule(cap, expect):
    c = choose_cuda("GPU", cap)
    assert c.precision == expect and f"sm_{cap[0]}{cap[1]}" in c.reason


def test_auto_on_cpu_follows_onednn_and_the_calibration(monkeypatch):
    calls = []
    monkeypatch.setattr(hw, "cpu_rates", lambda: calls.append(1) or {"fp32": 1.0, "bf16": 4.0})
    monkeypatch.setattr(hw, "cpu_bf16_native", lambda: False)
    assert resolve_precision("auto", "cpu").precision == "fp32"
    assert calls == []  # no calibration where oneDNN says bf16 is not native
    monkeypatch.setattr(hw, "cpu_bf16_native", lambda: True)
    assert resolve_precision(None, "cpu").precision == "bf16" and calls == [1]
    assert resolve_precision("auto", "cpu", calibrate=False).precision == "bf16"
    monkeypatch.setattr(hw, "cpu_rates", lambda: {"fp32": 1.0, "bf16": 1.0})
    assert resolve_precision("auto", "cpu").precision == "fp32"


def test_explicit_precision_overrides_and_unknown_is_refused():
    assert resolve_precision("fp32", "cpu") == PrecisionChoice("fp32", "requested")
    assert resolve_precision("bf16", "cpu").precision == "bf16"
    choice = PrecisionChoice("fp16", "x")
    assert resolve_precision(choice, "cpu") is choice
    with pytest.raises(PrecisionError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", "cpu")


def test_cuda_without_cuda_is_one_clear_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PrecisionError, match="CUDA is not available"):
        resolve_precision("auto", "cuda")


def test_calibration_is_cached_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_CACHE", str(tmp_path))
    timed = []

    def fake_rate(dtype, device="cpu", n=hw.CALIBRATION_N):
        timed.append(str(dtype))
        return 2.0 * G if "bfloat16" in str(dtype) else 1.0 * G

    monkeypatch.setattr(hw, "matmul_rate", fake_rate)
    assert hw.cpu_rates() == {"fp32": 1.0 * G, "bf16": 2.0 * G}
    assert hw.cpu_rates() == {"fp32": 1.0 * G, "bf16": 2.0 * G}
    assert len(timed) == 2  # the second call read the cache
    cache = json.loads((tmp_path / "hardware.json").read_text())
    assert len(cache) == 1
    # another dispatch limit (whatever this process runs under): another entry
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", os.environ.get("ONEDNN_MAX_CPU_ISA", "") + "-other")
    hw.cpu_rates()
    assert len(timed) == 4 and len(json.loads((tmp_path / "hardware.json").read_text())) == 2
    hw.cpu_rates(refresh=True)
    assert len(timed) == 6


def test_matmul_rate_measures_something_plausible():
    import torch

    r = hw.matmul_rate(torch.float32, n=64)
    assert 1e7 < r < 1e14


@pytest.mark.parametrize("jobs, cores, expect", [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 8, 4),
                                                 (3, 8, 2), (16, 8, 1)])
def test_thread_split(jobs, cores, expect):
    assert threads_per_job(jobs, cores) == expect
    assert jobs * threads_per_job(jobs, cores) <= max(cores, jobs)


def test_thread_split_refuses_no_jobs():
    with pytest.raises(ValueError):
        threads_per_job(0, 4)


SPEC = """
sizes = ["20k"]
tokens = "2k"
recipes = ["prose=1", "prose=0.5,code=0.5"]
[train]
batch_size = 4
seq_len = 16
"""


def test_grid_workers_get_their_share_of_the_cores(tmp_path, monkeypatch):
    """--jobs K: every worker is told cores // K threads and the grid's one precision."""
    import scaling.grid as grid

    submitted = []

    class Done:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    class Pool:
        def __init__(self, jobs, **kw):
            self.jobs = jobs

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def submit(self, fn, *args):
            submitted.append(args)
            return Done({"run_id": args[0]["run_id"] if "run_id" in args[0] else "x",
                         "status": "done", "reason": "", "skipped": False})

    monkeypatch.setattr(grid, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(grid, "as_completed", lambda futs: futs)
    monkeypatch.setattr(grid, "threads_per_job", lambda jobs: threads_per_job(jobs, cores=8))
    spec = GridSpec.from_dict({**_spec_dict(), "train": {"batch_size": 4, "seq_len": 16,
                                                         "precision": "fp32"}})
    run_grid(spec, tmp_path / "o", jobs=2, progress=False)
    assert len(submitted) == 2
    # run_one(config, run_dir, device, progress, threads, keep_checkpoints, precision)
    assert {a[4] for a in submitted} == {4}
    assert {a[6] for a in submitted} == {PrecisionChoice("fp32", "requested")}


def _spec_dict():
    import tomllib

    return tomllib.loads(SPEC)


def test_precision_is_a_runtime_option_of_a_grid():
    plain = GridSpec.from_dict(_spec_dict())
    fp32 = GridSpec.from_dict({**_spec_dict(), "train": {"batch_size": 4, "seq_len": 16,
                                                         "precision": "fp32"}})
    assert plain.precision == "auto" and fp32.precision == "fp32"
    assert [c.run_id for c in plain.configs()] == [c.run_id for c in fp32.configs()]
    with pytest.raises(GridError, match="'precision' in \\[train\\].*'fp8'"):
        GridSpec.from_dict({**_spec_dict(), "train": {"precision": "fp8"}})
    with pytest.raises(GridError, match="grid-wide runtime option"):
        GridSpec.from_dict({**_spec_dict(), "recipes": [
            {"mix": "prose=1", "train": {"precision": "fp32"}}]})
    with pytest.raises(GridError, match="unknown precision"):
        run_grid(plain, "unused-dir", precision="fp8")


def test_dry_run_times_each_worker_with_its_share_of_the_cores(tmp_path, monkeypatch):
    """--dry-run --jobs K times the steps with cores // K threads and divides the wall time."""
    import torch

    import scaling.grid as grid

    seen = []

    def fake_time(configs, device, steps, precision):
        seen.append(torch.get_num_threads())
        return {hash((c.model, c.data.batch_size, c.data.seq_len)): 1000.0 for c in configs}

    monkeypatch.setattr(grid, "_time_shapes", fake_time)
    monkeypatch.setattr(grid, "threads_per_job", lambda jobs: threads_per_job(jobs, cores=2))
    spec = GridSpec.from_dict(_spec_dict())
    before = torch.get_num_threads()
    one = grid.dry_run_plan(spec, device="cpu", precision="fp32").summary()
    two = grid.dry_run_plan(spec, device="cpu", precision="fp32", jobs=2).summary()
    assert seen == [before, 1] and torch.get_num_threads() == before
    assert two["threads_per_job"] == 1 and two["jobs"] == 2
    assert two["to_run_wall_seconds"] == pytest.approx(two["to_run_seconds"] / 2)
    assert one["to_run_wall_seconds"] == pytest.approx(one["to_run_seconds"])
    assert two["precision"] == "fp32" and two["precision_reason"] == "requested"
