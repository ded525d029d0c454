"""Run store: round trip, damaged files, concurrent writers."""

import json
import multiprocessing as mp
import re
import shutil
from pathlib import Path

import pytest
import torch
from faults import corrupt_middle

import scaling
from scaling.store import (
    CheckpointError,
    ConfigMismatch,
    RunDir,
    RunWriter,
    config_hash,
    load_runs,
)

CFG = {"recipe": "prose=1", "n_params": 1000, "n_params_total": 5000, "seed": 0,
       "model": {"n_layer": 2, "d_model": 16}}


def _write_run(root, cfg=CFG, n=5, done=True):
    w = RunWriter.in_grid(root, cfg)
    for i in range(n):
        w.log(step=i, tokens=100 * i, kind="val_loss", name="prose", value=3.0 - 0.1 * i)
        w.log(step=i, tokens=100 * i, kind="skill", name="copy", value=0.1 * i)
    if done:
        w.mark_done()
    return w


def test_round_trip(tmp_path):
    w = _write_run(tmp_path / "grid")
    assert (w.path / "config.json").exists()
    assert w.run_id == config_hash(CFG)
    metrics, runs = load_runs(tmp_path)
    assert list(runs["status"]) == ["done"]
    assert len(metrics) == 10
    row = metrics.iloc[0]
    assert row["grid"] == "grid" and row["recipe"] == "prose=1" and row["n_params"] == 1000
    prose = metrics[metrics["name"] == "prose"].sort_values("step")
    assert prose["value"].tolist() == pytest.approx([3.0, 2.9, 2.8, 2.7, 2.6])
    assert prose["tokens"].tolist() == [0, 100, 200, 300, 400]


def test_config_written_before_any_metric(tmp_path):
    w = RunWriter.in_grid(tmp_path, CFG)
    assert json.loads((w.path / "config.json").read_text())["recipe"] == "prose=1"
    assert not (w.path / "metrics.jsonl").exists()
    assert load_runs(tmp_path).runs["status"].tolist() == ["incomplete"]


def test_same_config_resumes_different_config_is_refused(tmp_path):
    RunWriter(tmp_path / "r", CFG)
    RunWriter(tmp_path / "r", dict(CFG))  # same config: fine
    other = {**CFG, "seed": 1, "model": {"n_layer": 3, "d_model": 16}}
    with pytest.raises(ConfigMismatch) as e:
        RunWriter(tmp_path / "r", other)
    assert "seed" in str(e.value) and "model.n_layer" in str(e.value)


def test_truncated_last_line_is_tolerated(tmp_path):
    w = _write_run(tmp_path / "g")
    with open(w.path / "metrics.jsonl", "a") as f:
        f.write('{"step": 9, "tokens": 900, "kind": "val_lo')
    res = load_runs(tmp_path)
    assert res.runs["status"].tolist() == ["done"]
    assert len(res.metrics) == 10
    assert any("truncated" in s for s in res.runs["warnings"].iloc[0])
    assert res.warnings == [f"{w.path}: truncated last line of metrics.jsonl dropped"]
    # The writer repairs the tail: a resumed run appends on a fresh line.
    w.log(step=9, tokens=900, kind="val_loss", name="prose", value=2.0)
    res = load_runs(tmp_path)
    assert len(res.metrics) == 11 and res.runs["status"].tolist() == ["done"]


def test_missing_and_unparsable_config_are_reported_and_excluded(tmp_path):
    good = _write_run(tmp_path / "g")
    bad = _write_run(tmp_path / "g", cfg={**CFG, "seed": 7})
    (bad.path / "config.json").write_text("{not json")
    gone = _write_run(tmp_path / "g", cfg={**CFG, "seed": 8})
    (gone.path / "config.json").unlink()
    res = load_runs(tmp_path)
    by_id = res.runs.set_index("run_id")
    assert by_id.loc[good.run_id, "status"] == "done"
    assert by_id.loc[bad.path.name, "status"] == "failed"
    assert "config.json unparsable" in by_id.loc[bad.path.name, "reason"]
    assert "config.json missing" in by_id.loc[gone.path.name, "reason"]
    assert set(res.metrics["run_id"]) == {good.run_id}
    assert len(res.excluded) == 2


def test_garbage_in_the_middle_is_corrupt(tmp_path):
    w = _write_run(tmp_path / "g")
    lines = (w.path / "metrics.jsonl").read_text().splitlines()
    lines.insert(2, "garbage")
    (w.path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    res = load_runs(tmp_path)
    assert res.runs["status"].tolist() == ["failed"]
    assert "line 3" in res.runs["reason"].iloc[0]
    assert res.metrics.empty


def test_failed_and_incomplete_excluded_unless_asked(tmp_path):
    _write_run(tmp_path / "g")
    f = _write_run(tmp_path / "g", cfg={**CFG, "seed": 1}, done=False)
    f.mark_failed("loss is NaN at step 3")
    _write_run(tmp_path / "g", cfg={**CFG, "seed": 2}, done=False)
    res = load_runs(tmp_path)
    assert sorted(res.runs["status"]) == ["done", "failed", "incomplete"]
    assert res.metrics["seed"].unique().tolist() == [0]
    assert res.runs.set_index("status").loc["failed", "reason"] == "loss is NaN at step 3"
    res_all = load_runs(tmp_path, include=("done", "failed", "incomplete"))
    assert sorted(res_all.metrics["seed"].unique()) == [0, 1, 2]
    with pytest.raises(ValueError):
        load_runs(tmp_path, include=("finished",))


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        load_runs(tmp_path / "nope")


def test_atomic_checkpoints_and_damaged_ones_are_skipped(tmp_path):
    w = RunWriter(tmp_path, CFG)
    w.save_checkpoint({"w": torch.ones(3), "step": 1}, step=1)
    w.save_checkpoint({"w": torch.full((3,), 2.0), "step": 2}, step=2)
    assert not list(w.path.glob("ckpt/*.tmp"))
    step, state = w.load_latest_checkpoint()
    assert step == 2 and state["w"].tolist() == [2.0, 2.0, 2.0]
    # Truncate the newest: the writer falls back to the previous good one and says why.
    p = w.checkpoint_path(2)
    p.write_bytes(p.read_bytes()[:50])
    step, state = w.load_latest_checkpoint()
    assert step == 1 and state["w"].tolist() == [1.0, 1.0, 1.0]
    assert w.refused_checkpoints and w.refused_checkpoints[0][0] == p


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_checkpoint_with_code_is_refused(tmp_path):
    w = RunWriter(tmp_path, CFG)
    w.save_checkpoint({"x": _Evil()}, step=5)  # a valid checksum: weights_only refuses it
    assert w.load_latest_checkpoint() is None
    assert w.refused_checkpoints[0][0] == w.checkpoint_path(5)
    assert "checksum" not in w.refused_checkpoints[0][1]


def test_checkpoint_corrupted_in_the_middle_fails_its_checksum(tmp_path):
    w = RunWriter(tmp_path, CFG)
    w.save_checkpoint({"w": torch.arange(10_000.0), "step": 1}, step=1)
    w.save_checkpoint({"w": torch.arange(10_000.0) * 2, "step": 2}, step=2)
    p = w.checkpoint_path(2)
    assert (p.parent / "step_2.pt.sha256").read_text().split()[1] == "step_2.pt"
    corrupt_middle(p)
    loaded = torch.load(p, weights_only=True)  # loads "fine": only the checksum tells
    assert not torch.equal(loaded["w"], torch.arange(10_000.0) * 2)
    step, state = w.load_latest_checkpoint()
    assert step == 1 and torch.equal(state["w"], torch.arange(10_000.0))
    ((path, why),) = w.refused_checkpoints
    assert path == p and "checksum mismatch" in why
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        RunDir(tmp_path).load_checkpoint(2)  # what the other DDP ranks call


def test_checkpoint_without_checksum_is_refused_and_pruning_removes_checksums(tmp_path):
    w = RunWriter(tmp_path, CFG)
    for s in (1, 2, 3):
        w.save_checkpoint({"step": s}, step=s)
    torch.save({"step": 4}, w.checkpoint_path(4))  # not written by the store
    step, _ = w.load_latest_checkpoint()
    assert step == 3 and "no checksum file step_4.pt.sha256" in w.refused_checkpoints[0][1]
    w.prune_checkpoints(2)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "step_3.pt", "step_3.pt.sha256", "step_4.pt"]


def _append_many(root, seed, n):
    w = RunWriter.in_grid(root, {**CFG, "seed": seed})
    for i in range(n):
        w.log(step=i, tokens=i, kind="train_loss", name="train", value=float(i), pad="x" * 200)
    w.mark_done()


def test_concurrent_appends_from_two_processes(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(tmp_path, s, 300)) for s in (10, 11)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    res = load_runs(tmp_path)
    assert res.runs["status"].tolist() == ["done", "done"]
    counts = res.metrics.groupby("seed")["step"].apply(sorted)
    for s in (10, 11):
        assert counts[s] == list(range(300))


def test_backup_copy_inside_the_store_is_named_not_merged(tmp_path):
    a = _write_run(tmp_path / "g")
    _write_run(tmp_path / "g", cfg={**CFG, "seed": 1})
    shutil.copytree(a.path, tmp_path / "g" / f"{a.run_id}.bak")  # a backup beside it
    shutil.copytree(a.path, tmp_path / "old" / a.run_id)  # and one in another folder
    res = load_runs(tmp_path)
    assert len(res.metrics) == 20 and res.metrics["run_id"].nunique() == 2  # not 40 from 2
    by_path = res.runs.set_index("path")
    for copy in (tmp_path / "g" / f"{a.run_id}.bak", tmp_path / "old" / a.run_id):
        row = by_path.loc[str(copy)]
        assert row["status"] == "failed" and row["n_records"] == 0
        assert row["reason"].startswith(f"duplicate: run {a.run_id} is also at {a.path}")
    assert by_path.loc[str(a.path), "status"] == "done"
    assert sum("duplicate" in w for w in res.warnings) == 2
    # even when failed runs are asked for, the copies' metrics stay out
    assert len(load_runs(tmp_path, include=("done", "failed")).metrics) == 20


def test_config_copied_from_another_run_or_edited_is_refused(tmp_path):
    a = _write_run(tmp_path / "g")
    b = _write_run(tmp_path / "g", cfg={**CFG, "seed": 1})
    c = _write_run(tmp_path / "g", cfg={**CFG, "seed": 2})
    shutil.copy(a.path / "config.json", b.path / "config.json")  # relabels b as a
    edited = json.loads((c.path / "config.json").read_text())
    edited["n_params"] = 2000  # a hand edit of c's size
    (c.path / "config.json").write_text(json.dumps(edited))
    res = load_runs(tmp_path)
    by_path = res.runs.set_index("path")
    assert by_path.loc[str(b.path), "reason"].startswith(
        f"mismatch: directory {b.run_id} holds the config.json of run {a.run_id}")
    assert by_path.loc[str(c.path), "reason"].startswith(
        f"mismatch: config.json does not hash to its run_id {c.run_id}")
    assert by_path.loc[str(a.path), "status"] == "done"
    assert res.metrics["run_id"].tolist() == [a.run_id] * 10
    assert len(res.warnings) == 2 and all("refused" in w for w in res.warnings)


def test_run_directory_with_a_name_of_its_own_is_not_refused(tmp_path):
    w = RunWriter(tmp_path / "my-run", CFG)  # `scaling train --out my-run`
    w.log(step=1, tokens=10, kind="val_loss", name="prose", value=3.0)
    w.mark_done()
    res = load_runs(tmp_path)
    assert res.runs["status"].tolist() == ["done"] and res.warnings == []
    assert res.runs["run_id"].tolist() == [config_hash(CFG)]


def test_only_the_store_knows_the_run_directory_layout():
    """The trainer, the grid and everything else go through scaling.store for file names,
    markers and the metrics format (a string check, comments and docstrings included)."""
    root = Path(scaling.__file__).parent
    layout = re.compile(r"metrics\.jsonl|\bDONE\b|\bFAILED\b|ckpt/|[\"']ckpt[\"']")
    offenders = [f"{p.relative_to(root)}:{i}: {line.strip()}"
                 for p in sorted(root.rglob("*.py")) if p != root / "store.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if layout.search(line)]
    assert offenders == []
    assert layout.search((root / "store.py").read_text())  # the pattern does find them
