"""Bad input through the CLI: one line naming the argument, exit 1, no traceback, nothing written.

One table sweeps the inputs of issue 19 and the bad inputs the per-command CLI tests cover
(test_cli_store, test_data_cli, test_fit_cli, test_predict_cli, test_train_cli). For each: a
non-zero exit, exactly one line ``error: …`` naming the argument, no "Traceback", and the
working folder unchanged (no output file, run directory, store or grid left behind). Every case
is refused before torch is imported (checked in a subprocess) and so in about the time
``scaling --help`` takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scaling import cli
from scaling.cli import app

runner = CliRunner()

LAW = "params,tokens,loss\n" + "".join(
    f"{n:g},{d:g},{2 + 400 / n ** 0.3 + 300 / d ** 0.3:.5f}\n"
    for n in (1e6, 4e6, 1.6e7) for d in (1e7, 4e7, 1.6e8))
GOOD_GRID = 'sizes = ["20k"]\ntokens = "8k"\nrecipes = ["prose=1"]\n'


def _files(root: Path) -> dict[str, str]:
    """Every input the table refers to, written under ``root``."""
    lines = LAW.splitlines()
    files = {
        "law.csv": LAW,
        "header.csv": "params,tokens,loss\n",
        "nan.csv": "\n".join([*lines[:3], "4e6,1e7,nan", *lines[3:]]) + "\n",
        "empty_cell.csv": "\n".join([*lines[:3], "4e6,1e7,", *lines[3:]]) + "\n",
        "inf.csv": "\n".join([*lines[:2], "4e6,1e7,inf", *lines[2:]]) + "\n",
        "dup.csv": "\n".join([*lines, lines[4]]) + "\n",
        "toks.csv": LAW.replace("tokens", "toks"),
        "nonnum.csv": "run,N,D,loss\na,1e6,10,3.0\na,big,20,2.0\n",
        "notokens.csv": "run,params,loss\na,1e6,3.0\n",
        "grok.csv": "curve,tokens,value\n" + "".join(
            f"a,{t:g},{v}\n" for t, v in zip(np.geomspace(1e4, 1e8, 8),
                                             (0.0, 0.1, 0.2, 0.5, 85, 0.9, 1.0, 1.0),
                                             strict=True)),
        "grok_nan.csv": "curve,tokens,value\na,1e4,0.1\na,1e5,\na,1e6,0.9\n",
        "mix.csv": "mix_a,mix_b,loss\n" + "".join(f"{w},{1 - w},{3 - w}\n"
                                                 for w in (0.1, 0.3, 0.5, 0.7, 0.9)),
        "empty.toml": 'sizes = ["20k"]\ntokens = "8k"\nrecipes = []\n',
        "huge.toml": GOOD_GRID.replace('"20k"', '"1e12"'),
        "good.toml": GOOD_GRID,
        "negseed.toml": GOOD_GRID + "seeds = [0, -2]\n",
        "garbage/notes.txt": "not a run",
        "garbage/sub/config.jsn": "{",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (root / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (root / "adir").mkdir()
    return files


TRAIN = ["train", "--size", "20k", "--mix", "prose=1", "--tokens", "8k", "--out", "{t}/run"]


def _train(*extra):
    args = list(TRAIN)
    for i in range(0, len(extra), 2):
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += extra[i:i + 2]
    return args


# (args with {t} for the working folder, what the one line must contain)
CASES = [
    # issue 19: sizes and budgets this machine (or any) cannot train, refused with the estimate
    (_train("--size", "1e30"), ["--size", "too large"]),
    (_train("--size", "1e12"), ["--size 1e12", "needs at least", "TiB", "lower --size"]),
    (_train("--tokens", "1e30"), ["--tokens", "lower --tokens"]),
    (["predict", "--mix", "prose=1", "--size", "1e30"], ["--size", "shape rule"]),
    (["predict", "--mix", "prose=1", "--tokens", "1e30"], ["--tokens"]),
    (["predict", "--mix", "prose=1", "--size", "1B", "--tokens", "1e7x"], ["--tokens 1e7x"]),
    (["predict", "--mix", "prose=1", "--tokens", "-2x"], ["tokens per parameter"]),
    # issue 19: train options refused before the run directory is made
    (_train("--device", "gpu"), ["--device", "'gpu'"]),
    (_train("--lr", "-1"), ["--lr", "> 0"]),
    (_train("--lr", "nan"), ["--lr"]),
    (_train("--mix", "prose=1,mine@{t}/nothing/*.txt=1"), ["matches no files"]),
    (_train("--warmup-steps", "-1"), ["--warmup-steps"]),
    (_train("--batch-size", "0"), ["--batch-size"]),
    (_train("--keep-checkpoints", "0"), ["--keep-checkpoints"]),
    (_train("--precision", "fp8"), ["--precision", "'fp8'"]),
    (_train("--seed", "-1"), ["--seed", "-1"]),
    (["data", "stats", "--mix", "prose=1", "--tokens", "1M", "--seed", "-1"], ["--seed"]),
    (["fit", "law", "{t}/law.csv", "--seed", "-1"], ["--seed"]),
    (["fit", "mixture", "{t}/mix.csv", "--target", "loss", "--seed", "-3"], ["--seed"]),
    (["predict", "--mix", "prose=1", "--seed", str(2**64)], ["--seed"]),
    (["backtest", "--seed", "-1"], ["--seed"]),
    (["grid", "{t}/negseed.toml", "--out", "{t}/grid"], ["seed of recipe 'prose=1'"]),
    (["grid", "{t}/good.toml", "--out", "{t}/grid", "--precision", "half"], ["--precision"]),
    (_train("--out", "{t}/law.csv"), ["--out", "is a file"]),
    # issue 19: CSV rows, the same for import, fit law and fit grok
    (["fit", "law", "{t}/header.csv"], ["no data rows"]),
    (["fit", "law", "{t}/nan.csv"], ["row 4", "'loss'", "--drop-bad-rows"]),
    (["fit", "law", "{t}/empty_cell.csv"], ["row 4", "'loss'"]),
    (["fit", "law", "{t}/inf.csv"], ["row 3", "infinite", "--drop-bad-rows"]),
    (["fit", "law", "{t}/dup.csv"], ["row 11", "repeat", "--drop-bad-rows"]),
    (["import", "{t}/nan.csv", "--out", "{t}/store"], ["row 4", "--drop-bad-rows"]),
    (["import", "{t}/inf.csv", "--out", "{t}/store"], ["row 3", "infinite"]),
    (["import", "{t}/dup.csv", "--out", "{t}/store"], ["row 11", "repeat"]),
    (["import", "{t}/header.csv", "--out", "{t}/store"], ["no data rows"]),
    (["import", "{t}/law.csv", "--out", "{t}/law.csv"], ["--out", "is a file"]),
    (["import", "{t}/law.csv", "--out", "{t}/law.csv/store"], ["--out", "is a file"]),
    (["fit", "grok", "{t}/grok.csv"], ["row 6", "'value'", "[0, 1]"]),
    (["fit", "grok", "{t}/grok_nan.csv"], ["row 3", "'value'"]),
    # issue 19: files that are not what they should be
    (["fit", "law", "{t}/law.csv", "--predict", "{t}/law.csv", "--out", "{t}/adir"],
     ["--out", "is a directory"]),
    (["grid", "{t}/binary.toml", "--out", "{t}/grid"], ["grid spec", "not a TOML file"]),
    (["grid", "{t}/adir", "--out", "{t}/grid"], ["grid spec", "is a directory"]),
    (["fit", "law", "{t}/binary.csv"], ["not a CSV file"]),
    (["import", "{t}/binary.csv", "--out", "{t}/store"], ["not a CSV file"]),
    (["data", "show", "dyck", "-n", "-1"], ["-n", "≥ 1"]),
    (["grid", "{t}/empty.toml", "--out", "{t}/grid"], ["'recipes'", "non-empty"]),
    (["grid", "{t}/huge.toml", "--out", "{t}/grid"], ["size 1e12", "needs at least"]),
    (["runs", "{t}/garbage"], ["no runs under"]),
    (["runs", "{t}/law.csv"], ["is a file"]),
    # more options of the same kind
    (["grid", "{t}/good.toml", "--out", "{t}/grid", "--jobs", "0"], ["--jobs"]),
    (["grid", "{t}/good.toml", "--out", "{t}/grid", "--executor", "slurm"], ["--executor"]),
    (["grid", "{t}/good.toml", "--out", "{t}/grid", "--device", "tpu"], ["--device"]),
    (["fit", "law", "{t}/law.csv", "--form", "kaplan"], ["--form", "chinchilla"]),
    (["fit", "law", "{t}/law.csv", "--points", "some"], ["--points"]),
    (["fit", "law", "{t}/law.csv", "--bootstrap", "-1"], ["--bootstrap"]),
    (["fit", "law", "{t}/law.csv", "--min-tokens", "lots"], ["min-tokens"]),
    (["fit", "law", "{t}/law.csv", "--predict", "{t}/law.csv", "--out", "{t}/law.csv"],
     ["--out", "overwrite"]),
    (["fit", "mixture", "{t}/mix.csv", "--target", "loss", "--folds", "1"], ["--folds"]),
    (["data", "stats", "--mix", "prose=1", "--tokens", "1e30"], ["--tokens"]),
    (["data", "show", "needle", "--difficulty", "0"], ["--difficulty"]),
    (["predict", "--mix", "prose=1", "--bootstrap", "-5"], ["--bootstrap"]),
    (["predict", "--mix", "prose=1", "--runs", "{t}/binary.csv"], ["--runs", "not a CSV"]),
    (["report", "--out", "{t}/adir"], ["--out", "is a directory"]),
    (["report", "--runs", "{t}/garbage", "--out", "{t}/r.pdf"], ["no runs under", "--runs"]),
    (["predict", "--mix", "prose=1", "--runs", "{t}/garbage"], ["no runs under", "--runs"]),
    (["fit", "law", "{t}/garbage"], ["no runs under"]),
    (["fit", "grok", "{t}/adir"], ["no runs under"]),
    (["fit", "law", "{t}/law.csv", "--min-tokens", "0"], ["--min-tokens", "> 0"]),
    (["report", "--out", "{t}/r.pdf", "--size", "1e30"], ["--size"]),
    (["backtest", "--bootstrap", "-1"], ["--bootstrap"]),
    (["backtest", "--hold-out", "two"], ["--hold-out", "a number of sizes (2) or a model size"]),
    (["backtest", "--hold-out", "0"], ["--hold-out must be ≥ 1"]),
    (["demo", "--out", "{t}/law.csv"], ["--out", "is a file"]),
    (["demo", "--out", "{t}/demo", "--jobs", "0"], ["--jobs"]),
    # already covered by the per-command tests, folded in here
    (["data", "stats", "--mix", "prose=1,dyk=1", "--tokens", "1M"], ["unknown domain 'dyk'"]),
    (["data", "stats", "--mix", "prose=-1", "--tokens", "1M"], ["must be ≥ 0"]),
    (["data", "stats", "--mix", "prose=1;front=dyck:2", "--tokens", "1M"], ["front fraction"]),
    (["data", "stats", "--mix", "prose=1,prose=1", "--tokens", "1M"], ["duplicate"]),
    (["data", "stats", "--mix", "x@=1", "--tokens", "1M"], ["empty path"]),
    (["data", "stats", "--mix", "prose=1", "--tokens", "-5"], ["tokens"]),
    (["data", "show", "dyk"], ["unknown domain 'dyk'"]),
    (_train("--size", "huge"), ["cannot read size"]),
    (_train("--size", "50"), ["too small"]),
    (_train("--tokens", "100"), ["smaller than one batch"]),
    (_train("--mix", "prose=1,dyk=1"), ["dyk"]),
    (_train("--schedule", "cosine", "--branches", "0.5"), ["wsd"]),
    (_train("--out", "{t}/law.csv/run"), ["--out"]),
    (["fit", "law", "{t}/toks.csv"], ["'tokens' (aliases: D, n_tokens)"]),
    (["fit", "law", "{t}/nope.csv"], ["no such file"]),
    (["fit", "law", "{t}/law.csv", "--predict", "{t}/law.csv"], ["go together"]),
    (["fit", "mixture", "{t}/mix.csv", "--target", "ppl"], ["no target column 'ppl'"]),
    (["import", "{t}/notokens.csv", "--out", "{t}/store"], ["'tokens'", "D"]),
    (["import", "{t}/nonnum.csv", "--out", "{t}/store"], ["'params'", "not numeric", "3"]),
    (["runs", "{t}/nope"], ["no such run directory"]),
    (["predict", "--mix", "prose=1;front=dyk:0.01"], ["dyk"]),
    (["predict", "--mix", "prose=1", "--size", "big"], ["cannot read size"]),
    (["predict", "--mix", "prose=1", "--runs", "{t}/nope"], ["nope"]),
    (["backtest", "--runs", "{t}/law.csv", "--min-tokens", "lots"], ["cannot read --min-tokens"]),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    t = tmp_path_factory.mktemp("bad")
    _files(t)
    return t


def _tree(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def _fill(args, t):
    return [a.replace("{t}", str(t)) for a in args]


@pytest.mark.parametrize("args, needles", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_and_nothing_is_written(work, args, needles, monkeypatch):
    monkeypatch.setenv("SCALING_RUNS", str(work))  # no reference grid: --runs must be given
    before = _tree(work)
    r = runner.invoke(app, _fill(args, work))
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert r.exit_code == 1, r.output
    assert isinstance(r.exception, SystemExit), repr(r.exception)  # refused, not crashed
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert "Traceback" not in r.output
    for needle in needles:
        assert needle.replace("{t}", str(work)) in lines[0], (needle, lines[0])
    assert _tree(work) == before, "the bad input wrote or touched files"


def test_the_table_covers_the_issue_and_the_existing_tests():
    assert len(CASES) >= 45


def test_refused_before_torch_is_imported(work):
    """A subprocess runs the cheap cases one after another; none may import torch (or scipy,
    matplotlib, lmfit): that is what makes an error as fast as ``--help``."""
    cheap = [a for a, _ in CASES if a[0] in ("train", "grid", "fit", "import", "runs", "data")
             and "--device" not in a and a[-1] != "{t}/nope.csv" and "toks.csv" not in a[2:3]
             and "{t}/mix.csv" not in a]
    code = (
        "import json, sys\n"
        "from scaling.cli import main\n"
        "codes = []\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    sys.argv = ['scaling', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as e:\n"
        "        codes.append(e.code)\n"
        "heavy = [m for m in ('torch', 'scipy', 'matplotlib', 'lmfit') if m in sys.modules]\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))\n")
    env = {**os.environ, "SCALING_RUNS": str(work)}
    p = subprocess.run([sys.executable, "-c", code, json.dumps([_fill(a, work) for a in cheap])],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["codes"] == [1] * len(cheap)
    assert out["heavy"] == [], f"imported before the arguments were checked: {out['heavy']}"
    assert "Traceback" not in p.stderr
    assert len(cheap) >= 30


def test_drop_bad_rows_leaves_them_out_and_says_how_many(work, tmp_path):
    good = pd.read_csv(work / "law.csv")
    r = runner.invoke(app, ["fit", "law", str(work / "nan.csv"), "--drop-bad-rows",
                            "--bootstrap", "0", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["n_points"] == len(good)
    assert any("--drop-bad-rows: 1 of 10 rows" in w and "row 4" in w for w in doc["warnings"])
    # the same fit as on the table without the bad row
    clean = json.loads(runner.invoke(app, ["fit", "law", str(work / "law.csv"), "--bootstrap",
                                           "0", "--json"]).stdout)
    assert doc["params"] == pytest.approx(clean["params"])
    r = runner.invoke(app, ["import", str(work / "dup.csv"), "--out", str(tmp_path / "s"),
                            "--drop-bad-rows", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["dropped_rows"] == 1 and len(doc["runs"]) == len(good)
    assert "row 11" in doc["warnings"][0]
    r = runner.invoke(app, ["fit", "grok", str(work / "grok.csv"), "--drop-bad-rows", "--json"])
    assert r.exit_code == 0, r.output
    assert any("1 of 8 rows" in w for w in json.loads(r.stdout)["warnings"])


def test_unexpected_errors_are_one_line_unless_debugging(work, monkeypatch):
    import scaling.fit.frames

    def broken(*a, **k):
        raise RuntimeError("something nobody foresaw\nsecond line")

    monkeypatch.setattr(scaling.fit.frames, "fit_law_path", broken)
    args = ["fit", "law", str(work / "law.csv")]
    monkeypatch.delenv("SCALING_DEBUG", raising=False)
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit)
    assert r.output.strip().splitlines() == [
        "error: unexpected RuntimeError: something nobody foresaw (please report this with the "
        "command; SCALING_DEBUG=1 shows the traceback)"]
    monkeypatch.setenv("SCALING_DEBUG", "1")
    r = runner.invoke(app, args)
    assert isinstance(r.exception, RuntimeError)  # the traceback is the user's to see


def test_main_guards_what_escapes_a_command(monkeypatch, capsys):
    def app_that_breaks(**kw):
        raise KeyError("oops")

    monkeypatch.delenv("SCALING_DEBUG", raising=False)
    monkeypatch.setattr(cli, "app", app_that_breaks)
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected KeyError") and err.count("\n") == 1


def test_memory_estimate_is_a_lower_bound_that_grows_with_the_model():
    from scaling.shape import shape_for
    from scaling.validate import training_memory

    small, big = shape_for(100_000), shape_for(10**9)
    a, b = training_memory(small, 256, 32, 128), training_memory(big, 256, 32, 128)
    # 16 bytes per parameter of state: fp32 weights + gradients + two AdamW moments
    assert a["state"] == 16 * a["params"] and b["state"] > 1000 * a["state"]
    assert training_memory(small, 256, 64, 128)["activations"] == 2 * a["activations"]
    assert training_memory(small, 256, 32, 128, "fp32")["activations"] > a["activations"]


def test_the_cheap_checks_agree_with_the_library():
    """The validator's lists and counts are the library's (so they cannot drift apart)."""
    from scaling.fit.forms import LAW_FORMS
    from scaling.fit.law_table import POINTS
    from scaling.shape import non_embedding_params, shape_for
    from scaling.train import RunConfig
    from scaling.validate import FIT_FORMS, FIT_POINTS

    assert set(FIT_FORMS) == set(LAW_FORMS) and FIT_POINTS == POINTS
    for size in ("20k", "100k", "1M"):
        cfg = RunConfig.from_args(size=size, mix="prose=1", tokens="1M")
        s = shape_for(cfg.size)
        assert non_embedding_params(s.n_layer, s.d_model) == cfg.n_params


def test_cuda_checks_with_a_stand_in_gpu(monkeypatch):
    """The CUDA branch of the device check, on a stand-in for one 80 GiB GPU (CPU-only CI)."""
    import types

    import torch

    import scaling.validate as v

    monkeypatch.setattr(v, "_no_cuda_driver", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i: types.SimpleNamespace(total_memory=80 * 2**30))
    assert v.check_device("cuda") == ("cuda", 80 * 2**30)
    assert v.check_device(None) == ("cuda", 80 * 2**30)
    with pytest.raises(v.ConfigError, match=r"cuda:1: this machine has 1 CUDA device"):
        v.check_device("cuda:1")
    dev, mem = v.check_device("cuda:0")
    v.check_fits(v.shape_for(10**9), 256, 32, 128, dev, mem)  # a 1B model fits in 80 GiB
    with pytest.raises(v.ConfigError, match=r"more than the 80 GiB of memory of cuda:0"):
        v.check_fits(v.shape_for(10**10), 256, 32, 128, dev, mem)  # 16 B × 10B params do not
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(v.ConfigError, match="CUDA is not available"):
        v.check_device("cuda")
    assert v.check_device(None)[0] == "cpu"


def test_usage_errors_are_one_line_too(tmp_path):
    """Typer's own errors (unknown option, missing or unreadable value) through the console
    entry point: one line naming the option and where the help is, exit 2; help and success
    keep their exit codes."""
    cases = [
        (["train", "--size", "20k", "--mix", "prose=1", "--tokens", "8k", "--out",
          str(tmp_path / "r"), "--batch-size", "abc"], "'--batch-size'"),
        (["train", "--size", "20k"], "Missing option '--mix'"),
        (["fit", "law", str(tmp_path / "x.csv"), "--bootsrap", "5"], "--bootsrap"),
        (["trian"], "No such command 'trian'"),
    ]
    code = ("import sys\nfrom scaling.cli import main\nsys.argv = ['scaling', *sys.argv[1:]]\n"
            "main()\n")
    for args, needle in cases:
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 2 and p.stdout == "", (args, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
        assert "--help`)" in lines[0]
    assert list(tmp_path.iterdir()) == []
    ok = subprocess.run([sys.executable, "-c", code, "data", "show", "dyck", "-n", "1"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("--- dyck sample 0"), ok.stderr
    help_ = subprocess.run([sys.executable, "-c", code, "fit"], capture_output=True, text=True,
                           timeout=120)
    assert help_.returncode == 2 and "law" in help_.stdout  # a group without a command: help


def test_an_explicit_shape_passes_the_checks_the_shape_rule_would_refuse():
    from scaling.errors import ScalingError
    from scaling.validate import check_train_args

    args = dict(batch_size=8, seq_len=32, device="cpu", layers=2)
    check_train_args("5k", "prose=1", "8k", width=16, heads=4, **args)  # size is a label
    with pytest.raises(ScalingError, match="too small"):
        check_train_args("5k", "prose=1", "8k", **args)
