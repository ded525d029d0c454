"""The PDF report: builds on simulated stores with known laws, renders every page, is
byte-reproducible under SOURCE_DATE_EPOCH, and says what is missing on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from scaling.cli import app
from scaling.predict.simulate import BASELINE_LAW, simulate_store, true_savings
from scaling.report import build_report
from scaling.store import RunWriter

SIZES = (12e3, 35e3, 100e3)
SKILLS = ("copy", "reverse", "sort", "add_plain", "add_scratchpad", "mod_add", "brackets",
          "needle")
LAWS = {
    "prose=1": BASELINE_LAW,
    "prose=1;front=dyck:0.01": {**BASELINE_LAW, "B": 80.0},
    "prose=1;mid=code:0.2@0.5": {**BASELINE_LAW, "B": 100.0},
    "prose=1;mid=code:0.2@0.8": {**BASELINE_LAW, "B": 110.0},
}
#: Grokking midpoints (fraction of the run's tokens) per recipe: the front-loaded recipe
#: groks every skill 2× earlier than the baseline.
EARLY = {"prose=1": 1.0, "prose=1;front=dyck:0.01": 0.5, "prose=1;mid=code:0.2@0.5": 0.9,
         "prose=1;mid=code:0.2@0.8": 1.0}


def make_store(path, sizes=SIZES, laws=LAWS, skills=True):
    """A WSD-shaped simulated store plus sigmoid-in-log-tokens skill records."""
    simulate_store(laws, path, sizes=sizes, seed=1)
    rng = np.random.default_rng(2)
    for name in laws:
        for n in sizes:
            if not skills:
                continue
            D = 120.0 * n
            w = RunWriter.in_grid(path, {"recipe": name, "n_params": float(n),
                                         "n_params_total": None, "seed": 0, "tokens": D,
                                         "source": "simulate_store"})
            recs = []
            for j, t in enumerate(np.geomspace(0.005, 1.0, 14) * D):
                for k, sk in enumerate(SKILLS):
                    mid = D * 0.04 * 1.6 ** k * EARLY[name]
                    acc = 0.02 + 0.96 / (1 + (t / mid) ** (-1 / 0.35))
                    recs.append({"step": 500 + j, "tokens": float(t), "kind": "skill",
                                 "name": sk, "value": float(np.clip(
                                     acc + 0.01 * rng.standard_normal(), 0, 1))})
            w.log_many(recs)
    return path


def render(pdf, out_dir):
    """Every page as a PNG (pdftoppm); returns the list of page images as arrays."""
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(out_dir / "p")], check=True)
    files = sorted(out_dir.glob("p-*.png"))
    return [np.asarray(Image.open(f).convert("L"), float) for f in files]


needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                    reason="pdftoppm (poppler-utils) is not installed")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("report") / "runs")


@pytest.fixture(scope="module")
def built(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("pdf") / "r.pdf"
    return build_report(store, out, bootstrap=30)


def test_report_pages_and_sections(built):
    assert built.path.exists()
    assert built.n_pages >= 6
    # every section of the issue is drawn on a good store, none replaced by a notice
    assert built.missing == {}, built.missing
    for title in ("Summary", "Skill emergence chart", "Backtest", "Methods and provenance",
                  "Midtraining: start × weight", "Savings vs model size"):
        assert title in built.pages


def test_report_headline_savings_are_the_prediction_layers(store, built):
    """The headline numbers are predict_savings' answers at the default target."""
    from scaling.predict import predict_savings

    by = {h["recipe"]: h for h in built.headline}
    assert set(by) == set(LAWS) - {"prose=1"}
    for r, h in by.items():
        p = predict_savings(store, r, bootstrap=30, skills=False)
        assert h["savings_ratio"] == pytest.approx(p.savings_ratio, rel=1e-9)
        assert h["interval"] == pytest.approx(list(p.interval), rel=1e-9)
        assert h["size"] == pytest.approx(10 * max(SIZES)) and h["extrapolated"]


def test_savings_in_the_grid_match_known_laws(store):
    """Inside the grid (the largest size) the report's savings recover the simulated truth."""
    from scaling.report import load_context

    ctx = load_context(store, size=max(SIZES), bootstrap=30)
    for r, p in ctx.savings.items():
        truth = true_savings(LAWS["prose=1"], LAWS[r], p.size, p.tokens)
        assert abs(np.log(p.savings_ratio / truth)) < 0.2, (r, p.savings_ratio, truth)
    best = min(ctx.savings, key=lambda r: ctx.savings[r].savings_ratio)
    assert best == "prose=1;front=dyck:0.01"  # the smallest B saves the most data


@needs_pdftoppm
def test_every_page_renders_and_none_is_blank(built, tmp_path):
    pages = render(built.path, tmp_path)
    assert len(pages) == built.n_pages >= 6
    for i, im in enumerate(pages, 1):
        ink = float((im < 200).mean())  # share of non-white pixels
        assert im.std() > 5 and ink > 0.005, f"page {i} ({built.pages[i - 1]}) looks blank"


def test_report_is_byte_reproducible(store, built, tmp_path, monkeypatch):
    """Same store, same options, same SOURCE_DATE_EPOCH → identical bytes (exact equality,
    metadata included)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = build_report(store, tmp_path / "a.pdf", bootstrap=30)
    b = build_report(store, tmp_path / "b.pdf", bootstrap=30)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert b"20231114" in a.path.read_bytes()  # CreationDate from SOURCE_DATE_EPOCH


def test_emergence_follows_the_skill_data(store, tmp_path):
    """The front-loaded recipe groks every skill ~2× earlier (its dots sit left)."""
    from scaling.report import load_context

    ctx = load_context(store, bootstrap=0)
    e = ctx.emergence.set_index(["recipe", "skill"])["midpoint"]
    ratios = {sk: e[("prose=1", sk)] / e[("prose=1;front=dyck:0.01", sk)] for sk in SKILLS}
    both = {k: v for k, v in ratios.items() if np.isfinite(v)}
    # late skills (midpoint beyond the run) are not grokked by the baseline: no ratio
    assert len(both) >= 5, ratios
    for sk, ratio in both.items():
        assert 1.6 < ratio < 2.5, (sk, ratio)
    st = ctx.emergence.set_index(["recipe", "skill"])["status"]
    assert st[("prose=1", "needle")] != "grokked"  # its true midpoint is past the last token


@needs_pdftoppm
def test_no_completed_runs_still_builds(tmp_path):
    """Only an unfinished run: the report says so on every page instead of empty axes."""
    w = RunWriter.in_grid(tmp_path / "runs", {"recipe": "prose=1", "n_params": 1e4,
                                              "seed": 0, "tokens": 1e6})
    w.log(1, 1000, "val_loss", "prose", 4.0)
    res = build_report(tmp_path / "runs", tmp_path / "r.pdf")
    assert any("no completed runs" in p for p in res.problems)
    assert "Loss curves and fitted laws" in res.missing
    assert "Backtest" in res.missing
    assert res.n_pages >= 6
    for im in render(res.path, tmp_path):
        assert im.std() > 3


def test_one_size_only_says_what_is_missing(tmp_path):
    store = make_store(tmp_path / "runs", sizes=(50e3,), skills=False,
                       laws={k: LAWS[k] for k in ("prose=1", "prose=1;front=dyck:0.01")})
    res = build_report(store, tmp_path / "r.pdf", bootstrap=20)
    assert any("one model size only" in p for p in res.problems)
    assert "sizes" in res.missing["The L(N, D) fit: residuals and parameters"]
    assert "≥ 3 model sizes" in res.missing["Backtest"]
    assert "skill records" in res.missing["Skill emergence chart"]
    # the one-size savings still come out (power laws at that size)
    assert len(res.headline) == 1 and res.headline[0]["size"] == pytest.approx(50e3)


def test_cli_report_json_and_bad_out(store, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.pdf"
    r = runner.invoke(app, ["report", "--runs", str(store), "--out", str(out),
                            "--bootstrap", "20", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout[r.stdout.index("{"):])
    assert data["n_pages"] >= 6 and out.exists()
    assert data["path"] == str(out)
    bad = runner.invoke(app, ["report", "--runs", str(store), "--out", str(tmp_path / "r.png")])
    assert bad.exit_code == 1
    assert "error: --out must name a .pdf file" in bad.output
    missing = runner.invoke(app, ["report", "--runs", str(tmp_path / "nope"), "--out",
                                  str(out)])
    assert missing.exit_code == 1 and "no such run store" in missing.output and "--runs" in missing.output


def test_one_bootstrap_default_so_the_headline_is_the_cli_answer(store):
    """`scaling report` and `scaling predict` share scaling.defaults.BOOTSTRAP: with the
    same store and arguments the PDF's headline interval is the one the CLI prints."""
    import inspect

    import typer

    from scaling.defaults import BOOTSTRAP
    from scaling.predict import backtest, predict_savings
    from scaling.report import load_context

    for fn in (build_report, load_context, predict_savings, backtest):
        assert inspect.signature(fn).parameters["bootstrap"].default == BOOTSTRAP, fn
    group = typer.main.get_command(app)
    for cmd in ("predict", "report", "backtest"):
        (opt,) = [p for p in group.commands[cmd].params if p.name == "bootstrap"]
        assert opt.default == BOOTSTRAP, cmd
    ctx = load_context(store)  # what build_report(store, out) draws its headline from
    r = "prose=1;mid=code:0.2@0.5"
    cli = CliRunner().invoke(app, ["predict", "--runs", str(store), "--mix", r, "--json"])
    assert cli.exit_code == 0, cli.output
    doc = json.loads(cli.stdout)
    head = ctx.savings[r].summary()
    assert head["interval"] == pytest.approx(doc["interval"], rel=1e-12)
    assert head["savings_ratio"] == pytest.approx(doc["savings_ratio"], rel=1e-12)
    assert head["verdict"] == doc["verdict"]


def test_small_grid_pages_are_not_mostly_blank(tmp_path):
    """A demo-sized store (a baseline and one recipe): the summary, loss-curve and savings
    pages fill the page instead of a corner of it; the savings panels share one y-axis."""
    from scaling.report import load_context, pages, style

    laws = {k: LAWS[k] for k in ("prose=1", "prose=1;front=dyck:0.01")}
    ctx = load_context(make_store(tmp_path / "runs", laws=laws, skills=False), bootstrap=20)
    with style.plt.rc_context(style.RC):
        for name in ("summary_page", "loss_pages", "savings_size_page"):
            figs = getattr(pages, name)(ctx)
            for fig in figs:
                fig.canvas.draw()
                im = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=2)
                rows = np.flatnonzero((im < 200).mean(axis=1) > 0.002)
                span = (rows.max() - rows.min()) / im.shape[0]
                assert span > 0.6, f"{name}: ink over {span:.0%} of the page height"
                style.plt.close(fig)
        (fig,) = pages.savings_size_page(ctx)
        axes = [a for a in fig.axes if a.get_ylabel() or a.get_title()]
        assert len({a.get_ylim() for a in axes}) == 1  # one y-range for every panel
        ticks = axes[0].get_yticks()
        lo, hi = axes[0].get_ylim()
        assert 1.0 in ticks and ((ticks >= lo) & (ticks <= hi)).sum() >= 3
        style.plt.close(fig)


def test_degenerate_aggregation_exponents_are_not_printed_as_numbers():
    """A Zipf exponent near 0 made β = (z − 1)/z = −26680.844 a legend entry; such fits, and
    skill sums that do not describe the loss, are said to have failed."""
    from types import SimpleNamespace as NS

    from scaling.report.pages.aggregation import aggregate_exponents

    def res(beta_s, zipf, r2=0.9, beta_p=0.232, at=None, warnings=()):
        return NS(power=NS(at_bound=at or {}), exponent_power=beta_p, exponent_skills=beta_s,
                  zipf_exponent=zipf, r2_skills=r2, warnings=list(warnings))

    assert aggregate_exponents(res(0.35, 1 / 0.65)) == ("β = 0.232", "β = 0.350")
    p, s = aggregate_exponents(res((3.7e-5 - 1) / 3.7e-5, 3.7e-5))
    assert p == "β = 0.232" and s.startswith("degenerate fit") and "26" not in s
    assert aggregate_exponents(res(0.278, 1.385, r2=0.024))[1].startswith("failed fit")
    assert aggregate_exponents(res(np.nan, np.nan))[1] == "no fit"
    p, _ = aggregate_exponents(res(0.35, 1 / 0.65, beta_p=3.0, at={"beta": "upper"}))
    assert p == "β = 3.000 (at upper bound)"
