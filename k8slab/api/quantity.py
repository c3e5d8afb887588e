"""Mirrors: staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go, suffix.go, amount.go

Resource quantities such as ``250m`` CPU or ``1.5Gi`` memory.

A quantity is a number with an optional suffix: decimal SI (``n u m k M G T P E``), binary SI
(``Ki Mi Gi Ti Pi Ei``, powers of 1024) or a decimal exponent (``1e3``, ``2E-3``). Upstream
never uses floating point for them, and neither do we: values are ``fractions.Fraction``.
Like upstream, parsing rounds any value finer than one nano (10^-9) up, away from zero.

``format_quantity`` gives the canonical text upstream ``String()`` prints: no fraction
digits and the largest suffix that loses nothing, so ``1.5`` becomes ``1500m`` and
``1.5Gi`` becomes ``1536Mi``.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Union

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

SPLIT_RE_STRING = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = "quantities must match the regular expression '" + SPLIT_RE_STRING + "'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXP = {v: k for k, v in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_DIGITS = set("0123456789")

NANO = Fraction(1, 10**9)
MAX_ALLOWED = Fraction(2**63 - 1)  # BinarySI quantities are capped here

QuantityLike = Union[str, int, float, Fraction]


def _scan(text: str) -> tuple[bool, str, str, str, str]:
    """Split a quantity string (``parseQuantityString``): sign, value, num, denom, suffix."""
    positive = True
    pos, end = 0, len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] != "-"
        pos += 1
    while True:  # strip leading zeros
        if pos >= end:
            return positive, "0", "0", "", ""
        if text[pos] != "0":
            break
        pos += 1
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return positive, text, num, "", ""
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise ValueError(ERR_FORMAT_WRONG)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """Base, exponent and format of a suffix (``suffixer.interpret``)."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        rest = suffix[1:]
        body = rest[1:] if rest[0] in "+-" else rest
        if body and all(c in _DIGITS for c in body):
            return 10, int(rest), DECIMAL_EXPONENT
    raise ValueError(ERR_SUFFIX)


def _round_up_nano(value: Fraction) -> Fraction:
    """Round a magnitude up to a whole number of nanos (``inf.RoundUp`` at scale 9)."""
    scaled = value / NANO
    if scaled.denominator == 1:
        return value
    sign = -1 if value < 0 else 1
    magnitude = -((-abs(scaled.numerator)) // scaled.denominator)
    return Fraction(sign * magnitude) * NANO


def parse_quantity_with_format(value: QuantityLike) -> tuple[Fraction, str]:
    """Parse a quantity and also return the format its suffix implies."""
    if type(value) is str:
        return _parse_text(value)
    return _parse_with_format(value)


@functools.lru_cache(maxsize=8192)
def _parse_text(value: str) -> tuple[Fraction, str]:
    return _parse_with_format(value)


def _parse_with_format(value: QuantityLike) -> tuple[Fraction, str]:
    if isinstance(value, bool):
        raise ValueError(ERR_FORMAT_WRONG)
    if isinstance(value, Fraction):
        return _round_up_nano(value), DECIMAL_SI
    if isinstance(value, int):
        return Fraction(value), DECIMAL_SI
    if isinstance(value, float):
        value = repr(value)
        if value in ("inf", "-inf", "nan"):
            raise ValueError(ERR_FORMAT_WRONG)
    text = str(value)
    if not text:
        raise ValueError(ERR_FORMAT_WRONG)
    if text == "0":
        return Fraction(0), DECIMAL_SI
    positive, _numeric, num, denom, suffix = _scan(text)
    base, exponent, fmt = _interpret(suffix)
    # Like upstream's scanner, a missing numerator counts as 0 (".", "+." parse as zero).
    amount = Fraction(int(num + denom or "0"), 10 ** len(denom))
    if base == 10:
        amount *= Fraction(10) ** exponent
    else:
        amount *= 2**exponent
    amount = _round_up_nano(amount)
    if fmt == BINARY_SI and amount > MAX_ALLOWED:
        amount = MAX_ALLOWED
    if fmt == BINARY_SI and 0 < amount < 1:
        fmt = DECIMAL_SI
    return (amount if positive else -amount), fmt


def parse_quantity(value: QuantityLike) -> Fraction:
    """Parse ``"250m"``, ``"1.5Gi"``, ``"1e3"``, ``2`` ... into an exact ``Fraction``.

    Raises ``ValueError`` with upstream's message for malformed text.
    """
    return parse_quantity_with_format(value)[0]


def scaled_value(q: QuantityLike, scale: int) -> int:
    """``ceil(q / 10**scale)``, rounding away from zero like upstream ``ScaledValue``."""
    amount = q if isinstance(q, Fraction) else parse_quantity(q)
    scaled = amount / Fraction(10) ** scale
    magnitude = -((-abs(scaled.numerator)) // scaled.denominator)
    return magnitude if scaled >= 0 else -magnitude


def value(q: QuantityLike) -> int:
    """Whole units, rounded up away from zero (``Quantity.Value``)."""
    if type(q) is str:
        return _text_scaled(q, 0)
    return scaled_value(q, 0)


def milli_value(q: QuantityLike) -> int:
    """Thousandths, rounded up away from zero (``Quantity.MilliValue``): ``"250m"`` -> 250."""
    if type(q) is str:
        return _text_scaled(q, -3)
    return scaled_value(q, -3)


@functools.lru_cache(maxsize=8192)
def _text_scaled(text: str, scale: int) -> int:
    """scaled_value of a quantity's text, remembered: the same few texts ("10m", "16Mi", "110") are read by every
    admission, score and container config."""
    return scaled_value(text, scale)


def _remove_factors(n: int, base: int, limit: int | None = None) -> tuple[int, int]:
    times = 0
    while n and n % base == 0 and (limit is None or times < limit):
        n //= base
        times += 1
    return n, times


def format_quantity(q: QuantityLike, format: str = DECIMAL_SI) -> str:
    """Canonical text for a quantity, as upstream ``Quantity.String()`` prints it."""
    amount = q if isinstance(q, Fraction) else parse_quantity(q)
    if amount == 0:
        return "0"
    if format == BINARY_SI and (-1024 < amount < 1024 or amount.denominator != 1):
        format = DECIMAL_SI
    sign = "-" if amount < 0 else ""
    magnitude = abs(amount)
    if format == BINARY_SI:
        mantissa, times = _remove_factors(int(magnitude), 1024, limit=6)
        return f"{sign}{mantissa}{_BINARY_BY_EXP.get(times * 10, '')}"
    nanos = magnitude / NANO
    if nanos.denominator != 1:  # finer than a nano cannot be stored; round up like parsing
        nanos = Fraction(-((-nanos.numerator) // nanos.denominator))
    mantissa, times = _remove_factors(int(nanos), 10)
    exponent = times - 9
    shift = exponent % 3
    mantissa *= 10**shift
    exponent -= shift
    if format == DECIMAL_EXPONENT:
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    if exponent > 18:
        mantissa *= 10 ** (exponent - 18)
        exponent = 18
    return f"{sign}{mantissa}{_DECIMAL_BY_EXP[exponent]}"


def canonical(text: QuantityLike) -> str:
    """Re-print a quantity string in canonical form, keeping its format (``1.5Gi`` -> ``1536Mi``)."""
    amount, fmt = parse_quantity_with_format(text)
    return format_quantity(amount, fmt)


def is_valid(text: QuantityLike) -> bool:
    try:
        parse_quantity(text)
    except ValueError:
        return False
    return True
