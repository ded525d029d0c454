"""`scaling train` through the CLI: JSON contract, kill -9 + resume, bad input, DDP (2 gloo ranks)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from scaling import load_runs
from scaling.cli import app

runner = CliRunner()
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
BASE = ["--size", "20k", "--batch-size", "8", "--seq-len", "32", "--precision", "fp32",
        "--device", "cpu"]


def cli(*args, env=ENV, **kw):
    return subprocess.run([sys.executable, "-m", "scaling", "train", *args], env=env,
                          capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def test_train_json_contract_and_human_shape(tmp_path):
    r = cli(*BASE, "--mix", "prose=1", "--tokens", "4k", "--out", str(tmp_path / "a"), "--json")
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert set(js) >= {"run_id", "out", "status", "n_params", "tokens", "final", "tokens_per_s"}
    assert js["status"] == "done" and js["tokens"] == 16 * 256
    assert set(js["final"]["val_loss"]) == {"prose"}
    assert "2 layers × 32 wide × 1 heads" in r.stderr  # the derived shape is printed
    _, table = load_runs(tmp_path / "a")
    assert table.loc[0, "run_id"] == js["run_id"] and table.loc[0, "n_params"] == js["n_params"]


def test_kill_9_then_rerun_gives_the_uninterrupted_result(tmp_path):
    args = [*BASE, "--mix", "prose=0.5,code=0.5", "--tokens", str(8 * 32 * 120), "--json"]
    full = cli(*args, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr
    out = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "scaling", "train", *args, "--out", str(out)],
                         env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (out / "ckpt").exists() and len(list((out / "ckpt").glob("step_*.pt"))) >= 3:
            break
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not (out / "DONE").exists(), "the run finished before it could be killed"
    again = cli(*args, "--out", str(out))
    assert again.returncode == 0, again.stderr
    a, b = json.loads(full.stdout), json.loads(again.stdout)
    assert a["run_id"] == b["run_id"]
    for d in a["final"]["val_loss"]:
        assert b["final"]["val_loss"][d] == pytest.approx(a["final"]["val_loss"][d], abs=1e-6)


@pytest.mark.parametrize("args, message", [
    (["--size", "huge"], "cannot read size"),
    (["--size", "50"], "too small"),
    (["--tokens", "100"], "smaller than one batch"),
    (["--mix", "prose=1,dyk=1"], "dyk"),
    (["--schedule", "cosine", "--branches", "0.5"], "wsd"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    full = ["--size", "20k", "--mix", "prose=1", "--tokens", "4k", "--out",
            str(tmp_path / "x")]
    for i in range(0, len(args), 2):
        if args[i] in full:
            full[full.index(args[i]) + 1] = args[i + 1]
        else:
            full += args[i:i + 2]
    r = runner.invoke(app, ["train", *full])
    assert r.exit_code == 1
    assert r.output.startswith("error: ") and message in r.output
    assert "Traceback" not in r.output


def test_unwritable_out_and_config_mismatch(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = runner.invoke(app, ["train", *BASE, "--mix", "prose=1", "--tokens", "4k", "--out",
                            str(blocker / "run")])
    assert r.exit_code == 1 and "cannot create run directory" in r.output
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", *BASE, "--mix", "prose=1", "--tokens", "4k", "--out",
                            str(out), "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", *BASE, "--mix", "prose=1", "--tokens", "8k", "--out",
                            str(out)])
    assert r.exit_code == 1 and "data.tokens" in r.output and "different config" in r.output


def test_a_diverging_run_exits_non_zero_in_every_output_mode(tmp_path):
    args = ["train", *BASE, "--mix", "prose=1", "--tokens", "4k", "--lr", "1e9"]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "j"), "--json"])
    assert r.exit_code == 1
    js = json.loads(r.stdout)  # the JSON is still printed, whole
    assert js["status"] == "failed" and "non-finite" in js["reason"]
    assert f"error: run {js['run_id']} failed: non-finite" in r.stderr
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "t")])
    assert r.exit_code == 1 and r.stdout.startswith("failed: ") and "non-finite" in r.stdout
    assert "Traceback" not in r.output


def test_ddp_two_gloo_ranks_match_one_process(tmp_path):
    args = [*BASE, "--mix", "prose=0.5,code=0.5", "--tokens", str(8 * 32 * 24)]
    single = cli(*args, "--out", str(tmp_path / "one"), "--json")
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "scaling", "train", *args, "--out", str(tmp_path / "two"), "--json"],
        env=ENV, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    rt = json.loads((tmp_path / "two" / "runtime.json").read_text())
    assert rt["world_size"] == 2

    def losses(d):
        return [(r["step"], r["kind"], r["name"], r["value"]) for r in
                map(json.loads, (d / "metrics.jsonl").read_text().splitlines())
                if r["kind"] in ("train_loss", "val_loss")]

    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert [x[:3] for x in a] == [x[:3] for x in b]
    for x, y in zip(a, b, strict=True):
        assert y[3] == pytest.approx(x[3], rel=1e-4, abs=1e-4), x


@pytest.fixture(autouse=True)
def one_thread():
    """In-process runs of tiny models: one thread (OpenMP oversubscription on shared cores)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.slow
def test_acceptance_100k_300k_under_90s(tmp_path):
    """The issue's acceptance run, with the default options (2 threads, default precision)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    t = time.perf_counter()
    r = cli("--size", "100k", "--mix", "prose=0.5,code=0.5", "--tokens", "300k", "--out",
            str(tmp_path / "acc"), "--json", env=env)
    seconds = time.perf_counter() - t
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert seconds < 90, f"took {seconds:.0f} s"
    recs = [json.loads(line) for line in (tmp_path / "acc" / "metrics.jsonl").read_text()
            .splitlines()]
    first = min(r["step"] for r in recs if r["kind"] == "val_loss")
    for d, v in js["final"]["val_loss"].items():
        v0 = next(r["value"] for r in recs if r["kind"] == "val_loss" and r["step"] == first
                  and r["name"] == d)
        assert v < v0 - 0.3, d
    assert len(js["final"]["skill"]) >= 3
