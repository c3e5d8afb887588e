"""Quantities parse exactly and print in upstream's canonical form."""

from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from k8slab.api import quantity as q


@pytest.mark.parametrize("text,expected", [
    ("0", 0), ("1", 1), ("250m", Fraction(1, 4)), ("1.5", Fraction(3, 2)), ("1k", 1000), ("1M", 10**6),
    ("1G", 10**9), ("1T", 10**12), ("1P", 10**15), ("1E", 10**18), ("1Ki", 1024), ("1Mi", 2**20),
    ("1.5Gi", 3 * 2**29), ("1Ei", 2**60), ("100n", Fraction(1, 10**7)), ("1u", Fraction(1, 10**6)),
    ("1e3", 1000), ("1E3", 1000), ("2e-3", Fraction(2, 1000)), ("-5", -5), ("+5", 5), (".5", Fraction(1, 2)),
    ("5.", 5), ("0.1n", Fraction(1, 10**9)), ("-0.1n", Fraction(-1, 10**9)), ("0001", 1), (".", 0),
])
def test_parse(text, expected):
    assert q.parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "1Kii", "1K", "1ki", "1 Gi", "--1", "1e", "1Mi1", "1.5e", "5 "])
def test_parse_errors(bad):
    with pytest.raises(ValueError):
        q.parse_quantity(bad)


def test_error_message_is_upstreams():
    with pytest.raises(ValueError) as info:
        q.parse_quantity("abc")
    assert str(info.value) == ("quantities must match the regular expression "
                               "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    with pytest.raises(ValueError, match="unable to parse quantity's suffix"):
        q.parse_quantity("1K")


def test_numbers_and_values():
    assert q.parse_quantity(2) == 2
    assert q.parse_quantity(0.5) == Fraction(1, 2)
    assert q.milli_value("250m") == 250
    assert q.milli_value("1") == 1000
    assert q.milli_value("0.1m") == 1  # rounded up to 1m
    assert q.value("1.2") == 2
    assert q.value("-1.2") == -2  # away from zero
    assert q.value("1Gi") == 2**30


@pytest.mark.parametrize("text,canonical", [
    ("1.5", "1500m"), ("1.5Gi", "1536Mi"), ("1024Mi", "1Gi"), ("1000", "1k"), ("1000m", "1"),
    ("100m", "100m"), ("0.1", "100m"), ("1500000", "1500k"), ("12e6", "12e6"), ("1e3", "1e3"),
    ("0", "0"), ("-1.5", "-1500m"), ("512Ki", "512Ki"), ("1536Ki", "1536Ki"), ("0.5Gi", "512Mi"),
    ("1023Ki", "1023Ki"), ("100Mi", "100Mi"), ("1Ki", "1Ki"), ("0.5Ki", "512"), ("10G", "10G"),
    ("1e-3", "1e-3"), ("1E", "1E"), ("2000E", "2000E"),
])
def test_canonical_like_upstream_string(text, canonical):
    assert q.canonical(text) == canonical


def test_binary_quantities_are_capped_at_int64_max():
    assert q.parse_quantity("8388609Ti") == 2**63 - 1


def test_format_quantity_formats():
    assert q.format_quantity(Fraction(3, 2)) == "1500m"
    assert q.format_quantity(Fraction(2**30), "BinarySI") == "1Gi"
    assert q.format_quantity(Fraction(1000), "BinarySI") == "1k"  # below 1024 falls back to DecimalSI
    assert q.format_quantity(Fraction(1000), "DecimalExponent") == "1e3"


decimal_suffixes = st.sampled_from(["n", "u", "m", "", "k", "M", "G", "T"])
binary_suffixes = st.sampled_from(["Ki", "Mi", "Gi", "Ti"])


@given(st.integers(min_value=-10**12, max_value=10**12), decimal_suffixes)
def test_decimal_round_trip(n, suffix):
    text = f"{n}{suffix}"
    value = q.parse_quantity(text)
    assert q.parse_quantity(q.format_quantity(value)) == value
    assert q.canonical(q.canonical(text)) == q.canonical(text)


@given(st.integers(min_value=0, max_value=10**6), binary_suffixes)
def test_binary_round_trip(n, suffix):
    text = f"{n}{suffix}"
    value, fmt = q.parse_quantity_with_format(text)
    out = q.format_quantity(value, fmt)
    assert q.parse_quantity(out) == value
    if n and n % 1024:
        assert out == text  # already canonical: kept as written


@given(st.integers(min_value=-10**6, max_value=10**6), st.integers(min_value=-10**6, max_value=10**6))
def test_ordering_preserved(a, b):
    qa, qb = q.parse_quantity(f"{a}m"), q.parse_quantity(f"{b}m")
    assert (qa < qb) == (a < b) and (qa == qb) == (a == b)
    assert q.milli_value(f"{a}m") == a


@given(st.fractions(min_value=-10**6, max_value=10**6))
def test_parsed_values_are_whole_nanos(f):
    value = q.parse_quantity(f)
    assert (value * 10**9).denominator == 1
    assert abs(value) >= abs(f)  # rounding goes away from zero
    assert abs(value - f) < Fraction(1, 10**9)
