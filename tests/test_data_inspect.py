"""`scaling data show|stats` print a library result: ``--json`` is ``.summary()``, the text
``.report()``."""

import json

from typer.testing import CliRunner

from scaling.cli import app
from scaling.data.inspect import Samples, is_probe, samples
from scaling.data.stats import recipe_stats

runner = CliRunner()


def test_probe_or_domain():
    assert is_probe("needle") and is_probe("probe:sort")
    assert not is_probe("sort") and not is_probe("prose")  # a built-in domain wins


def test_data_show_prints_samples():
    for name, kind in (("prose", "domain"), ("needle", "probe"), ("probe:sort", "probe")):
        res = samples(name, 2)
        assert isinstance(res, Samples) and res.kind == kind
        r = runner.invoke(app, ["data", "show", name, "-n", "2", "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout) == res.summary()
        r = runner.invoke(app, ["data", "show", name, "-n", "2"])
        assert r.exit_code == 0 and r.stdout == res.report() + "\n"
    assert samples("needle", 2).report().count("  →  ") == 2
    assert samples("prose", 2).report().startswith("--- prose sample 0\n")


def test_data_stats_prints_mix_stats():
    mix = "prose=1;front=dyck:0.01"
    res = recipe_stats(mix, 300_000)
    r = runner.invoke(app, ["data", "stats", "--mix", mix, "--tokens", "300k", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == json.loads(json.dumps(res.summary()))
    r = runner.invoke(app, ["data", "stats", "--mix", mix, "--tokens", "300k"])
    assert r.exit_code == 0 and r.stdout == res.report() + "\n"
    lines = res.report().splitlines()
    assert lines[0].startswith("recipe ") and lines[1].startswith("phase")
    assert lines[-1].startswith("overall")
