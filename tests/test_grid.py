"""Grids: spec validation, resume after a kill, no-op rerun, locks between grid processes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaling import load_runs
from scaling.cli import app
from scaling.grid import GridError, GridSpec, run_grid
from scaling.lock import RunLock
from scaling.store import RunWriter

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]

# Tiny on purpose: 2 sizes × 1 recipe, a few steps each.
TINY = """
name = "t"
sizes = ["12k", "50k"]
tokens = "16k"
recipes = ["prose=1"]
[train]
batch_size = 4
seq_len = 64
val_batches = 1
probe_n = 4
"""


def _spec(tmp_path, text=TINY, name="spec.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_unknown_key_is_named(tmp_path):
    r = runner.invoke(app, ["grid", str(_spec(tmp_path, "learning_rate = 1\n" + TINY)),
                            "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "'learning_rate'" in r.output
    assert not (tmp_path / "o").exists()


def test_unknown_train_option_is_named(tmp_path):
    with pytest.raises(GridError, match="warmup_tokens"):
        GridSpec.load(_spec(tmp_path, TINY + "warmup_tokens = 3\n")).configs()


def test_invalid_recipe_is_named_before_anything_runs(tmp_path):
    bad = TINY.replace('recipes = ["prose=1"]', 'recipes = ["prose=1", "prose=1;front=dyk:0.01"]')
    r = runner.invoke(app, ["grid", str(_spec(tmp_path, bad)), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1
    assert "dyk" in r.output and "prose=1;front=dyk:0.01" in r.output
    assert not (tmp_path / "o").exists()


def test_missing_executor_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(GridError, match="pip install"):
        run_grid(GridSpec.load(_spec(tmp_path)), tmp_path / "o", executor="submitit")


def test_dry_run_prints_plan(tmp_path):
    r = runner.invoke(app, ["grid", str(_spec(tmp_path)), "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["runs"] == 2 and plan["flops"] > 0 and plan["est_seconds"] > 0
    assert {p["status"] for p in plan["plan"]} == {"pending"}
    assert plan["to_run"] == 2 and plan["to_run_seconds"] == pytest.approx(plan["est_seconds"])


def test_dry_run_says_when_the_cpu_is_busy(tmp_path, monkeypatch):
    import scaling.grid

    monkeypatch.setattr(scaling.grid.os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    r = runner.invoke(app, ["grid", str(_spec(tmp_path)), "--dry-run", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "warning: the CPU is busy (1-minute load 64.0" in r.stderr
    monkeypatch.setattr(scaling.grid.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    r = runner.invoke(app, ["grid", str(_spec(tmp_path)), "--dry-run", "--device", "cpu"])
    assert "busy" not in r.stderr


def test_grid_runs_then_rerun_is_a_noop(tmp_path):
    spec = GridSpec.load(_spec(tmp_path))
    res = run_grid(spec, tmp_path / "o", progress=False)
    assert res.counts == {"done": 2}
    metrics, runs = load_runs(tmp_path / "o")
    assert sorted(runs["status"]) == ["done", "done"] and runs["n_params"].nunique() == 2
    t0 = time.perf_counter()
    again = run_grid(spec, tmp_path / "o", progress=False)
    assert all(r["skipped"] for r in again.results) and time.perf_counter() - t0 < 20
    assert len(load_runs(tmp_path / "o").metrics) == len(metrics)
    # --keep-checkpoints 1: each run keeps its newest checkpoint only, same metrics
    kept = run_grid(spec, tmp_path / "k", progress=False, keep_checkpoints=1)
    assert kept.counts == {"done": 2}
    for d in (tmp_path / "k").iterdir():
        if d.is_dir():
            newest = sorted((tmp_path / "o" / d.name / "ckpt").glob("*.pt"),
                            key=lambda p: int(p.stem.split("_")[1]))[-1].name
            assert sorted(p.name for p in (d / "ckpt").iterdir()) == [newest,
                                                                      f"{newest}.sha256"]
    with pytest.raises(GridError, match="keep-checkpoints must be ≥ 1"):
        run_grid(spec, tmp_path / "z", progress=False, keep_checkpoints=0)


def test_submitit_local_executor(tmp_path):
    pytest.importorskip("submitit")
    spec = GridSpec.load(_spec(tmp_path, TINY.replace('["12k", "50k"]', '["12k"]')
                               + '[cluster]\ncluster = "local"\ntimeout_min = 5\n'))
    res = run_grid(spec, tmp_path / "o", executor="submitit", progress=False,
                   keep_checkpoints=1)
    assert res.counts == {"done": 1}, res.results
    (run_dir,) = [d for d in (tmp_path / "o").iterdir() if (d / "DONE").exists()]
    assert len(list((run_dir / "ckpt").glob("*.pt"))) == 1
    assert load_runs(tmp_path / "o").runs["status"].tolist() == ["done"]


def _grid_proc(spec, out):
    return subprocess.Popen([sys.executable, "-m", "scaling", "grid", str(spec), "--out", str(out),
                             "--json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def test_killed_grid_resumes_and_two_processes_never_share_a_run(tmp_path):
    spec = _spec(tmp_path, TINY.replace('tokens = "16k"', 'tokens = "60k"'))
    out = tmp_path / "o"
    p = _grid_proc(spec, out)
    deadline = time.time() + 120
    while not list(out.glob("*/ckpt/*.pt")) and time.time() < deadline:  # mid-way through run 1
        time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    # Two grid processes at once on the same directory: each run is trained exactly once.
    a, b = _grid_proc(spec, out), _grid_proc(spec, out)
    ra, rb = (json.loads(x.communicate(timeout=300)[0]) for x in (a, b))
    trained = [r["run_id"] for r in ra["runs"] + rb["runs"] if not r["skipped"]]
    assert len(trained) == len(set(trained))
    metrics, runs = load_runs(out)
    assert sorted(runs["status"]) == ["done", "done"]
    per_run = metrics[metrics["kind"] == "val_loss"].groupby(["run_id", "step", "name"]).size()
    assert (per_run == 1).all(), "a record was logged twice"


# --------------------------------------------------------------------------- faults


def _proc_children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    return kids


def _descendants(pid: int) -> list[int]:
    kids, out, todo = _proc_children(), [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting for a reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_kill_9_of_a_grid_with_jobs_ends_its_workers_and_a_rerun_completes(tmp_path):
    spec = _spec(tmp_path, TINY.replace('tokens = "16k"', 'tokens = "8k"\nseeds = [0, 1]')
                 .replace('["12k", "50k"]', '["12k"]'))
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "scaling", "grid", str(spec), "--out", str(out), "--jobs", "2"]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while len(list(out.glob("*/config.json"))) < 2:  # both workers inside train()
        assert time.time() < deadline and p.poll() is None
        time.sleep(0.05)
    workers = _descendants(p.pid)
    assert len(workers) >= 2
    p.kill()
    p.wait()
    deadline = time.time() + 10
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    leaked = [w for w in workers if _alive(w)]
    for w in leaked:  # do not leave them behind when the assertion fails
        os.kill(w, signal.SIGKILL)
    assert not leaked, "workers outlived the killed grid"
    again = run_grid(GridSpec.load(spec), out, progress=False)  # no run is "locked"
    assert again.counts == {"done": 2} and again.unfinished() is None
    metrics, runs = load_runs(out)
    assert sorted(runs["status"]) == ["done"] * 2
    per_run = metrics[metrics["kind"] == "val_loss"].groupby(["run_id", "step", "name"]).size()
    assert (per_run == 1).all(), "a record was logged twice"


DIVERGING = TINY.replace('["12k", "50k"]', '["12k"]') + "lr = 1e6\ngrad_clip = 0.0\n"


def test_a_failed_run_makes_the_grid_exit_non_zero_in_every_output_mode(tmp_path):
    spec, out = _spec(tmp_path, DIVERGING), tmp_path / "o"
    r = runner.invoke(app, ["grid", str(spec), "--out", str(out), "--json"])
    assert r.exit_code == 1
    js = json.loads(r.stdout)  # the JSON is still printed, whole
    assert js["counts"] == {"failed": 1} and "non-finite" in js["runs"][0]["reason"]
    assert "incomplete: 1 run(s) failed" in r.stderr
    r = runner.invoke(app, ["grid", str(spec), "--out", str(out)])  # rerun: still failed
    assert r.exit_code == 1 and ": 1 failed in" in r.stdout and "non-finite" in r.stdout
    assert r.stderr.startswith("error: grid ") and "Traceback" not in r.output


def _fake_done(out, cfg, holding=None):
    """A finished run directory for ``cfg`` holding ``holding``'s config (no training)."""
    w = RunWriter(out / cfg.run_id, (holding or cfg).to_dict())
    w.log(step=1, tokens=256, kind="val_loss", name="prose", value=3.0)
    w.mark_done()
    return w


def test_a_config_copied_from_another_run_is_named_not_counted_done(tmp_path):
    spec_path, out = _spec(tmp_path), tmp_path / "o"
    small, big = GridSpec.load(spec_path).configs()
    _fake_done(out, small)
    _fake_done(out, big, holding=small)  # big's directory relabelled with small's config.json
    before = sorted(p.name for p in (out / big.run_id).iterdir())
    r = runner.invoke(app, ["grid", str(spec_path), "--out", str(out), "--json"])
    assert r.exit_code == 1
    by_id = {x["run_id"]: x for x in json.loads(r.stdout)["runs"]}
    assert by_id[small.run_id]["status"] == "done"
    assert by_id[big.run_id]["status"] == "failed"
    assert str(out / big.run_id) in by_id[big.run_id]["reason"]
    assert "n_params" in by_id[big.run_id]["reason"]
    assert sorted(p.name for p in (out / big.run_id).iterdir()) == before  # left untouched
    row = load_runs(out).runs.set_index("run_id").loc[small.run_id]
    assert len(row) == 2  # both directories claim small's id: one is refused, named
    assert sorted(row["reason"].str.split(":").str[0]) == ["finished", "mismatch"]


def test_a_run_locked_by_a_live_process_makes_the_grid_exit_non_zero(tmp_path):
    spec_path, out = _spec(tmp_path), tmp_path / "o"
    small, big = GridSpec.load(spec_path).configs()
    _fake_done(out, small)
    with RunLock(out / big.run_id):  # another grid training it
        r = runner.invoke(app, ["grid", str(spec_path), "--out", str(out)])
    assert r.exit_code == 1 and ": 1 done, 1 locked in" in r.stdout
    assert "1 run(s) locked by another live process" in r.stderr
