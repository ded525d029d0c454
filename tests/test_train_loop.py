"""The training loop end to end on tiny models: metrics, resume, stages, branches, failures."""

import json
import shutil

import pytest
import torch
from faults import corrupt_middle

from scaling import load_runs
from scaling.hardware import PrecisionError
from scaling.store import ConfigMismatch, RunWriter
from scaling.train import RunConfig, TrainError, train
from scaling.train.config import ConfigError
from scaling.train.loop import reinit_for_stage
from scaling.train.model import build_model

TINY = dict(batch_size=8, seq_len=32, probe_n=4, val_batches=1, val_batch_size=4)


def tiny(mix="prose=0.5,code=0.5", tokens=8 * 32 * 24, **kw):
    return RunConfig.from_args(size="20k", mix=mix, tokens=tokens, seed=0, **{**TINY, **kw})


def run(cfg, path, **kw):
    return train(cfg, path, device="cpu", progress=False, precision=kw.pop("precision", "fp32"),
                 **kw)


def records(path):
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def trajectory(path):
    """Everything logged except wall-clock throughput (branch end points after the rest)."""
    return sorted(((r["step"], r["tokens"], r["kind"], r["name"], r.get("branch"), r["value"])
                   for r in records(path) if r["kind"] != "throughput"),
                  key=lambda t: (t[4] or 0.0, t[0], t[2], t[3]))


def rewind(src, dst, step):
    """A copy of a finished run as if it had been killed right after checkpoint ``step``."""
    shutil.copytree(src, dst)
    (dst / "DONE").unlink()
    for p in (dst / "ckpt").glob("step_*.pt"):
        if int(p.stem.split("_")[1]) > step:
            p.unlink()
    # the killed process had logged a few records beyond the checkpoint
    with open(dst / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": step + 1, "tokens": 0, "kind": "train_loss",
                            "name": "train", "value": 9.9}) + "\n")


def assert_same(a, b, tol=1e-6):
    ta, tb = trajectory(a), trajectory(b)
    assert [t[:5] for t in ta] == [t[:5] for t in tb]
    for x, y in zip(ta, tb, strict=True):
        assert x[5] == pytest.approx(y[5], abs=tol), x


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models on a shared 2-core machine: one thread avoids OpenMP oversubscription
    (10-50x slower steps when other processes hold the cores)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "base"
    cfg = tiny()
    return cfg, out, run(cfg, out)


def test_run_writes_config_metrics_checkpoints(base_run):
    cfg, out, res = base_run
    assert res.status == "done" and (out / "DONE").exists()
    stored = json.loads((out / "config.json").read_text())
    assert stored["run_id"] == cfg.run_id == res.run_id
    assert stored["recipe"] == "code=0.5,prose=0.5"
    assert stored["n_params"] == res.n_params == build_model(cfg.model).num_params()
    assert stored["n_params_total"] == build_model(cfg.model).num_params(False)
    assert stored["seed"] == 0 and stored["shape"] == {"n_layer": 2, "d_model": 32, "n_head": 1}
    assert "device" not in json.dumps(stored)  # runtime options stay out of the hash
    assert json.loads((out / "runtime.json").read_text())["device"] == "cpu"
    recs = records(out)
    evals = sorted({r["step"] for r in recs if r["kind"] == "val_loss"})
    assert evals[-1] == 24 and evals[0] == 8 and len(evals) >= 5
    ckpts = sorted(int(p.stem.split("_")[1]) for p in (out / "ckpt").glob("step_*.pt"))
    assert ckpts == evals
    assert res.tokens == 24 * 8 * 32
    assert set(res.final["val_loss"]) == {"code", "prose"}
    assert len(res.final["skill"]) >= 3
    assert res.tokens_per_s > 0
    first = {r["name"]: r["value"] for r in recs if r["kind"] == "val_loss" and r["step"] == 8}
    for d, v in res.final["val_loss"].items():
        assert v < first[d]  # every domain's loss falls
    metrics, table = load_runs(out)
    assert table["status"].tolist() == ["done"]
    assert set(metrics["kind"]) == {"train_loss", "val_loss", "skill", "throughput"}


def test_done_run_returns_at_once(base_run):
    cfg, out, res = base_run
    n = len(records(out))
    again = run(cfg, out)
    assert again.final == res.final and len(records(out)) == n


def test_resume_after_kill_continues_exactly(base_run, tmp_path):
    cfg, out, res = base_run
    resumed = tmp_path / "resumed"
    rewind(out, resumed, 12)
    res2 = run(cfg, resumed)
    assert res2.final["val_loss"] == pytest.approx(res.final["val_loss"], abs=1e-6)
    assert_same(out, resumed)


def test_keep_checkpoints_prunes_old_ones_and_resume_stays_exact(base_run, tmp_path):
    cfg, out, res = base_run
    kept = tmp_path / "kept"
    res2 = run(cfg, kept, keep_checkpoints=2)
    evals = sorted(int(p.stem.split("_")[1]) for p in (out / "ckpt").glob("step_*.pt"))
    ckpts = sorted(int(p.stem.split("_")[1]) for p in (kept / "ckpt").glob("step_*.pt"))
    assert ckpts == evals[-2:] and res2.run_id == res.run_id  # runtime-only option
    assert_same(out, kept)  # every evaluation is still in the metrics
    resumed = tmp_path / "resumed"
    rewind(kept, resumed, evals[-2])
    run(cfg, resumed, keep_checkpoints=2)
    assert_same(out, resumed)
    with pytest.raises(TrainError, match="keep-checkpoints must be >= 1"):
        run(cfg, tmp_path / "none", keep_checkpoints=0)
    assert not (tmp_path / "none").exists()


def test_tampered_and_truncated_checkpoints_are_refused(base_run, tmp_path, capsys):
    cfg, out, res = base_run
    resumed = tmp_path / "resumed"
    rewind(out, resumed, 18)
    # the newest checkpoint cut in half; a "newer" one that would run code when unpickled
    p = resumed / "ckpt" / "step_18.pt"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    RunWriter(resumed, cfg.to_dict()).save_checkpoint({"x": Evil()}, 20)  # checksum and all
    res2 = run(cfg, resumed)
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "refused checkpoint" in err and "step_20.pt" in err and "step_18.pt" in err
    assert res2.final["val_loss"] == pytest.approx(res.final["val_loss"], abs=1e-6)
    assert_same(out, resumed)


def test_checkpoint_corrupted_mid_file_is_skipped_and_the_resume_is_exact(base_run, tmp_path,
                                                                           capsys):
    cfg, out, res = base_run
    resumed = tmp_path / "resumed"
    rewind(out, resumed, 18)
    p = resumed / "ckpt" / "step_18.pt"
    corrupt_middle(p)
    torch.load(p, weights_only=True)  # garbage that loads: only the checksum tells
    res2 = run(cfg, resumed)
    err = capsys.readouterr().err
    assert f"refused checkpoint {p} (checksum mismatch" in err
    assert res2.status == "done"
    assert res2.final["val_loss"] == pytest.approx(res.final["val_loss"], abs=1e-6)
    assert_same(out, resumed)  # resumed from the previous good checkpoint, same trajectory


def test_different_config_in_run_dir_is_refused(base_run):
    cfg, out, _ = base_run
    with pytest.raises(ConfigMismatch, match="data.tokens"):
        run(tiny(tokens=8 * 32 * 30), out)


def test_nan_loss_marks_run_failed_and_keeps_metrics(tmp_path):
    cfg = tiny(lr=1e6, grad_clip=0.0)
    res = run(cfg, tmp_path / "nan")
    assert res.status == "failed"
    reason = (tmp_path / "nan" / "FAILED").read_text()
    assert "non-finite training loss" in reason and "at step" in reason
    _, table = load_runs(tmp_path / "nan", include=("failed",))
    assert table["status"].tolist() == ["failed"]
    assert any(r["kind"] == "train_loss" for r in records(tmp_path / "nan"))


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read size"):
        RunConfig.from_args(size="lots", mix="prose=1", tokens="10k")
    with pytest.raises(ConfigError, match="smaller than one batch"):
        tiny(tokens=100)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(Exception, match="cannot create run directory"):
        RunWriter(blocker / "run", tiny().to_dict())
    with pytest.raises(ConfigError, match="unknown option"):
        tiny(learning_rate=1.0)
    with pytest.raises(ConfigError, match="wsd"):
        tiny(branches="0.5")
    with pytest.raises(PrecisionError, match="precision"):
        run(tiny(), tmp_path / "p", precision="fp8")
    assert not (tmp_path / "p").exists()


def test_run_id_ignores_runtime_and_changes_with_config():
    a, b = tiny(), tiny()
    assert a.run_id == b.run_id
    other_seed = RunConfig.from_args(size="20k", mix="prose=0.5,code=0.5",
                                     tokens=8 * 32 * 24, seed=1, **TINY)
    assert other_seed.run_id != a.run_id
    assert RunConfig.from_dict(a.to_dict()) == a


def test_wsd_branches_log_end_points_and_survive_resume(tmp_path):
    cfg = tiny(mix="prose=1", tokens=8 * 32 * 40, schedule="wsd", branches="0.5")
    out = tmp_path / "wsd"
    res = run(cfg, out)
    (b,) = [r for r in records(out) if r.get("branch") == 0.5 and r["kind"] == "val_loss"]
    assert b["step"] == 20 and b["fork_step"] == 16 and b["tokens"] == 20 * 8 * 32
    assert res.branches[0.5]["val_loss"]["prose"] == b["value"]
    metrics, _ = load_runs(out)
    assert "branch" in metrics.columns
    main = metrics[metrics["branch"].isna()]
    assert main["step"].max() == 40
    # killed after the fork checkpoint (branch done) and at the fork (branch to be redone)
    for at in (18, 16):
        resumed = tmp_path / f"r{at}"
        rewind(out, resumed, at)
        run(cfg, resumed)
        assert_same(out, resumed)


def test_two_stage_reset_keep_attn_switches_once_and_resumes(tmp_path):
    mix = "prose=1;front=dyck:0.25:reset:keep=attn"
    cfg = tiny(mix=mix, tokens=8 * 32 * 40)
    out = tmp_path / "reset"
    run(cfg, out)
    stages = {int(p.stem.split("_")[1]): torch.load(p, weights_only=True)["stage"]
              for p in (out / "ckpt").glob("step_*.pt")}
    assert stages[10] == 0 and all(s == 1 for k, s in stages.items() if k > 10)
    assert {r["name"] for r in records(out) if r["kind"] == "val_loss"} == {"prose", "dyck"}
    for at in (10, 12):
        resumed = tmp_path / f"r{at}"
        rewind(out, resumed, at)
        run(cfg, resumed)
        assert_same(out, resumed)


def test_reinit_keeps_only_the_named_part():
    cfg = tiny().model
    m = build_model(cfg, seed=0)
    before = {n: p.clone() for n, p in m.named_parameters()}
    reinit_for_stage(m, "attn", seed=0)
    for n, p in m.named_parameters():
        if ".ln" in n or n.startswith("ln_f"):
            continue  # LayerNorm weights are re-set to 1, as they started
        assert torch.equal(p, before[n]) == (".attn." in n), n
    m2 = build_model(cfg, seed=0)
    reinit_for_stage(m2, "all", seed=0)
    assert all(torch.equal(p, before[n]) for n, p in m2.named_parameters())


def test_midtraining_and_meco_phase_starts_are_evaluated(tmp_path):
    cfg = tiny(mix="prose=0.8,code=0.2;mid=code:0.5@0.4;meco=0.9", tokens=8 * 32 * 40)
    out = tmp_path / "mid"
    run(cfg, out)
    steps = {r["step"] for r in records(out) if r["kind"] == "val_loss"}
    assert {16, 36} <= steps  # 0.4 and 0.9 of 40 steps
    resumed = tmp_path / "r"
    rewind(out, resumed, 16)
    run(cfg, resumed)
    assert_same(out, resumed)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_resume_is_exact_under_autocast(tmp_path, precision):
    """bf16 autocast, and fp16 with its gradient scaler (whose state the checkpoint holds)."""
    cfg = tiny(mix="prose=1")
    out = tmp_path / precision
    run(cfg, out, precision=precision)
    rt = json.loads((out / "runtime.json").read_text())
    assert rt["precision"] == precision and rt["precision_reason"] == "requested"
    resumed = tmp_path / "r"
    rewind(out, resumed, 10)
    run(cfg, resumed, precision=precision)
    assert_same(out, resumed)


def test_auto_precision_is_recorded_with_its_reason(tmp_path):
    from scaling.hardware import resolve_precision

    out = tmp_path / "auto"
    run(tiny(tokens=64 * 4), out, precision="auto")
    rt = json.loads((out / "runtime.json").read_text())
    expect = resolve_precision("auto", "cpu")
    assert (rt["precision"], rt["precision_reason"]) == (expect.precision, expect.reason)
    assert rt["precision_reason"].startswith("auto: CPU ")
