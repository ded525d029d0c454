import pytest

from scaling.units import UnitError, format_count, parse_count, parse_tokens


@pytest.mark.parametrize("text,value", [("100k", 100_000), ("3M", 3_000_000),
                                        ("1.3B", 1_300_000_000), ("3e5", 300_000),
                                        ("300000", 300_000), (2_000_000, 2_000_000)])
def test_parse_count(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("bad", ["", "ten", "3Q", "-5k", "0", "1e"])
def test_bad_counts_are_named(bad):
    with pytest.raises(UnitError, match="count|must be"):
        parse_count(bad)


def test_tokens_per_parameter():
    assert parse_tokens("20x", n_params=1_000_000) == 20_000_000
    assert parse_tokens("2M") == 2_000_000
    with pytest.raises(UnitError, match="no model size"):
        parse_tokens("20x")


def test_format_count_round_trips():
    for n in (950, 12_300, 3_000_000, 1_300_000_000):
        assert abs(parse_count(format_count(n)) - n) / n < 5e-3
