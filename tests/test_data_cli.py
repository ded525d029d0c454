"""`scaling data show|stats` through the CLI runner, then checked against the Python API."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from scaling.cli import app
from scaling.data.procedural import TASKS
from scaling.data.stream import mix_stats
from scaling.skills import PROBES

runner = CliRunner()
MIX = "prose=0.6,code=0.3,math=0.1;front=dyck:0.01"


def test_stats_acceptance_json():
    res = runner.invoke(app, ["data", "stats", "--mix", MIX, "--tokens", "2M", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"recipe", "tokens", "fractions", "phases"} <= set(out)
    assert out["tokens"] == 2_000_000 and out["recipe"] == "code=0.3,math=0.1,prose=0.6;" \
        "front=dyck:0.01"
    for d, f in out["fractions"].items():
        assert abs(f - out["expected"][d]) / out["expected"][d] < 0.05
    for ph in out["phases"]:
        for d, w in ph["weights"].items():
            assert abs(ph["fractions"][d] - w) / w < 0.05
    assert out == json.loads(json.dumps(mix_stats(MIX, 2_000_000)))


def test_show_domain_and_probe():
    res = runner.invoke(app, ["data", "show", "sort", "-n", "4", "--json"])
    assert res.exit_code == 0, res.output
    samples = json.loads(res.stdout)["samples"]
    assert len(samples) == 4
    for s in samples:
        inp, out = s.removesuffix("<eos>").split("<sep>")
        assert TASKS["sort"].verify(inp, out)
    res = runner.invoke(app, ["data", "show", "add_plain", "-n", "2", "--json"])
    assert json.loads(runner.invoke(app, ["data", "show", "probe:sort", "--json"]).stdout)[
        "kind"] == "probe"
    got = json.loads(res.stdout)["samples"]
    assert got == [{"prompt": e.prompt, "answer": e.answer}
                   for e in PROBES["add_plain"].generate(2)]
    res = runner.invoke(app, ["data", "show", "math", "-n", "1"])
    assert res.exit_code == 0 and "Q: " in res.stdout


def test_bad_input_is_one_line_and_nothing_runs():
    cases = [
        (["data", "stats", "--mix", "prose=1,dyk=1", "--tokens", "1M"], "unknown domain 'dyk'"),
        (["data", "stats", "--mix", "prose=-1", "--tokens", "1M"], "must be ≥ 0"),
        (["data", "stats", "--mix", "prose=1;front=dyck:2", "--tokens", "1M"], "front fraction"),
        (["data", "stats", "--mix", "prose=1,prose=1", "--tokens", "1M"], "duplicate"),
        (["data", "stats", "--mix", "x@=1", "--tokens", "1M"], "empty path"),
        (["data", "stats", "--mix", "prose=1", "--tokens", "-5"], "tokens"),
        (["data", "show", "dyk"], "unknown domain 'dyk'"),
    ]
    for args, msg in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == 1, (args, res.output)
        assert msg in res.output and res.output.startswith("error: "), res.output
        assert len(res.output.strip().splitlines()) == 1


def test_show_user_corpus_and_missing_field(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "a.jsonl"
    f.write_text("".join(json.dumps({"body": f"doc {i} " * 5}) + "\n" for i in range(30)))
    res = runner.invoke(app, ["data", "show", f"mine@{f}:body", "-n", "2", "--json"])
    assert res.exit_code == 0, res.output
    assert all(s.startswith("doc ") for s in json.loads(res.stdout)["samples"])
    res = runner.invoke(app, ["data", "show", f"mine@{f}"])
    assert res.exit_code == 1 and "no text field 'text'" in res.output
