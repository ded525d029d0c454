"""The --mix grammar: parsing, canonical names, schedules, TOML form, and clear errors."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.errors import ScalingError
from scaling.recipe import Front, Mid, RecipeError, parse_recipe


def test_static_mixture_normalised_and_canonical():
    r = parse_recipe("prose=7, code=3")
    assert r.base == (("code", 0.3), ("prose", 0.7))
    assert r.name == "code=0.3,prose=0.7"
    assert parse_recipe("code=0.3,prose=0.7") == r
    assert r.weights_at(0.5) == {"code": 0.3, "prose": 0.7}
    assert [p.name for p in r.phases()] == ["main"]


def test_front_mid_meco_schedule():
    r = parse_recipe("prose=0.8,code=0.2;front=dyck:0.01:reset:keep=attn;mid=code:0.5@0.4;meco=0.9")
    assert r.front == Front("dyck", 0.01, True, "attn")
    assert r.mid == Mid("code", 0.5, 0.4)
    assert r.domains == ("code", "prose", "dyck")
    assert r.weights_at(0.0) == {"dyck": 1.0}
    assert r.weights_at(0.2) == {"code": 0.2, "prose": 0.8}
    w = r.weights_at(0.5)
    assert w["code"] == 0.5 and w["prose"] == pytest.approx(0.5)
    phases = r.phases()
    assert [(p.name, p.start, p.end, p.meco) for p in phases] == [
        ("front", 0.0, 0.01, True), ("main", 0.01, 0.4, True), ("mid", 0.4, 0.9, True),
        ("mid-cooldown", 0.9, 1.0, False)]
    assert r.meco_at(0.89) and not r.meco_at(0.9)
    assert parse_recipe(r.name) == r
    assert parse_recipe(r.to_dict()) == r


def test_mid_rescales_other_domains_in_proportion():
    r = parse_recipe("prose=0.6,code=0.3,math=0.1;mid=math:0.4@0.5")
    w = r.weights_at(0.7)
    assert w["math"] == 0.4
    assert w["prose"] / w["code"] == pytest.approx(2.0)
    assert sum(w.values()) == pytest.approx(1.0)
    r2 = parse_recipe("prose=1;mid=sort:0.25@0")  # a new domain mid-way
    assert r2.weights_at(0.0) == {"prose": 0.75, "sort": 0.25}


def test_toml_form_matches_string():
    text = """
    [mix]
    base = {prose = 0.7, wiki = 0.3}
    front = {domain = "dyck", fraction = 0.01, reset = true, keep = "mlp"}
    meco = 0.9
    [mix.corpora.wiki]
    path = "data/wiki/*.jsonl"
    field = "body"
    """
    r = parse_recipe(tomllib.loads(text))
    s = parse_recipe("wiki@data/wiki/*.jsonl:body=0.3,prose=0.7;front=dyck:0.01:reset:keep=mlp;"
                     "meco=0.9")
    assert r == s
    assert r.name == "prose=0.7,wiki@data/wiki/*.jsonl:body=0.3;front=dyck:0.01:reset:keep=mlp;meco=0.9"
    assert r.corpora[0].path == "data/wiki/*.jsonl" and r.corpora[0].field == "body"
    assert parse_recipe(r.to_dict()) == r


@settings(max_examples=60, deadline=None)
@given(ws=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=4),
       front=st.one_of(st.none(), st.floats(1e-5, 0.5)),
       meco=st.one_of(st.none(), st.floats(0.05, 1.0)))
def test_name_round_trips(ws, front, meco):
    names = ["prose", "code", "math", "sort"][: len(ws)]
    spec = ",".join(f"{n}={w!r}" for n, w in zip(names, ws, strict=True))
    if front is not None:
        spec += f";front=dyck:{front!r}"
    if meco is not None:
        spec += f";meco={meco!r}"
    r = parse_recipe(spec)
    assert parse_recipe(r.name) == r
    assert parse_recipe(r.to_dict()) == r
    assert sum(w for _, w in r.base) == pytest.approx(1.0, abs=1e-9)
    for f in (0.0, 0.3, 0.999, 1.0):
        assert sum(r.weights_at(f).values()) == pytest.approx(1.0)


@pytest.mark.parametrize("spec, match", [
    ("prose=1,dyk=1", r"unknown domain 'dyk'.*known: dyck"),
    ("prose=-1", r"weight of 'prose' must be ≥ 0"),
    ("prose=0", r"every weight of the base mixture is 0"),
    ("prose=1,prose=2", r"duplicate domain 'prose'"),
    ("prose=1;meco=0.5;meco=0.6", r"duplicate key 'meco'"),
    ("prose=1;front=dyck:1.5", r"front fraction must be in \(0, 1\)"),
    ("prose=1;front=dyck:0", r"front fraction"),
    ("prose=1;meco=1.2", r"meco fraction must be in \(0, 1\]"),
    ("prose=1;mid=code:0.5@1.3", r"mid start"),
    ("prose=1;mid=code:-0.5@0.3", r"mid weight"),
    ("prose=1;front=dyck:0.01:keep=attn", r"keep= needs the two-stage protocol"),
    ("prose=1;front=dyck:0.01:reset:keep=head", r"keep='head'"),
    ("prose=1;front=dyck:0.1;mid=code:0.5@0.05", r"inside the front phase"),
    ("prose=1;warm=dyck:0.1", r"unknown --mix option 'warm'"),
    ("prose", r"no weight"),
    ("prose=abc", r"not a number"),
    ("", r"empty --mix"),
    ("front=dyck:0.1", r"must start with the base mixture"),
    ("mine@=0.3,prose=1", r"empty path"),
    ("dyck@x.txt=1", r"clashes with a built-in domain"),
    ("prose=1;front=nope:0.1", r"unknown domain 'nope' in front="),
])
def test_bad_recipes_name_the_problem(spec, match):
    with pytest.raises(RecipeError, match=match) as e:
        parse_recipe(spec)
    assert isinstance(e.value, ScalingError)


def test_a_domain_at_weight_zero_is_left_out():
    # a table of mixtures has an empty column as a 0 weight: the same recipe as without it
    assert parse_recipe("prose=1,code=0") == parse_recipe("prose=1")
    assert parse_recipe("prose=0.5,code=0.5,math=0").name == "code=0.5,prose=0.5"
