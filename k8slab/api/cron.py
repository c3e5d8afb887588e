"""Mirrors: github.com/robfig/cron/v3 (parser.go ParseStandard and getRange, spec.go SpecSchedule.Next,
constantdelay.go Every), the library kube-apiserver's CronJob validation and the CronJob controller both use.

``parse_standard("*/15 9-17 * * mon-fri")`` gives a :class:`CronSchedule`: the allowed minutes, hours, days of
month, months and days of week. Descriptors (``@hourly``, ``@daily`` ...) stand for five-field schedules and
``@every 1h30m`` for a constant delay. Errors carry robfig's messages, which the API server puts in its 422.
"""

from __future__ import annotations

import datetime as _dt
import re

from .errors import go_quote

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (minimum, maximum, names) of minute, hour, day of month, month, day of week
BOUNDS = [(0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, {m: i + 1 for i, m in enumerate(MONTHS)}),
          (0, 6, {d: i for i, d in enumerate(DAYS)})]
DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


class CronSchedule:
    """SpecSchedule: the allowed minutes, hours, days of month, months and days of week; ``dom_star`` and
    ``dow_star`` record a "*" (robfig's starBit), which decides how the two day fields combine."""

    def __init__(self, text: str, minutes, hours, dom, months, dow, dom_star: bool, dow_star: bool,
                 tz: _dt.tzinfo = _dt.timezone.utc) -> None:
        self.text = text
        self.minutes, self.hours, self.dom, self.months, self.dow = minutes, hours, dom, months, dow
        self.dom_star, self.dow_star = dom_star, dow_star
        self.tz = tz

    def __repr__(self) -> str:
        return f"CronSchedule({self.text!r})"

    def day_matches(self, t: _dt.datetime) -> bool:
        """dayMatches: with a "*" in either day field both must match, otherwise either may."""
        dom_match = t.day in self.dom
        dow_match = (t.weekday() + 1) % 7 in self.dow
        if self.dom_star or self.dow_star:
            return dom_match and dow_match
        return dom_match or dow_match

    def next(self, t: _dt.datetime) -> _dt.datetime | None:
        """Next: the first activation time strictly after ``t`` (None if there is none within five years)."""
        t = t.astimezone(self.tz).replace(second=0, microsecond=0) + _dt.timedelta(minutes=1)
        limit = t.year + 5
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + _dt.timedelta(days=32)).replace(day=1)
                continue
            if not self.day_matches(t):
                t = t.replace(hour=0, minute=0) + _dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + _dt.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t = t + _dt.timedelta(minutes=1)
                continue
            return t
        return None


class ConstantDelaySchedule:
    """ConstantDelaySchedule (``@every <duration>``): every ``delay_s`` seconds, on whole seconds."""

    def __init__(self, text: str, delay_s: int) -> None:
        self.text = text
        self.delay_s = delay_s

    def __repr__(self) -> str:
        return f"ConstantDelaySchedule({self.text!r})"

    def next(self, t: _dt.datetime) -> _dt.datetime:
        """Next: t + delay, rounded down to the second."""
        return t.replace(microsecond=0) + _dt.timedelta(seconds=self.delay_s)


def parse_go_duration(text: str) -> int:
    """time.ParseDuration for the non-negative durations @every takes: nanoseconds, or ValueError with Go's
    message (invalid duration, missing unit, unknown unit)."""
    orig, s, total = text, text, 0
    if s.startswith("+"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {go_quote(orig)}")
    while s:
        m = re.match(r"[0-9]*(\.[0-9]*)?", s)
        number = m.group(0)
        if number in ("", "."):
            raise ValueError(f"time: invalid duration {go_quote(orig)}")
        s = s[len(number):]
        unit = re.match(r"[^0-9.]*", s).group(0)
        if not unit:
            raise ValueError(f"time: missing unit in duration {go_quote(orig)}")
        if unit not in _UNIT_NS:
            raise ValueError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(orig)}")
        s = s[len(unit):]
        total += int(float(number) * _UNIT_NS[unit])
    return total


def _atoi(expr: str, text: str) -> int:
    """mustParseInt: strconv.Atoi, then no negative numbers."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f"failed to parse int from {text}: strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    n = int(text)
    if n < 0:
        raise ValueError(f"negative number ({n}) not allowed: {expr}")
    return n


def get_range(expr: str, lo: int, hi: int, names: dict) -> tuple[set[int], bool]:
    """getRange: one comma-separated part ("*", "5", "1-5", "*/15", "3/10", "mon-fri"): its values, and whether
    it is a "*" (the star bit)."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False

    def value(text: str) -> int:
        if text.lower() in names:
            return names[text.lower()]
        return _atoi(expr, text)

    if low_and_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = value(low_and_high[0])
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = value(low_and_high[1])
        else:
            raise ValueError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(expr, range_and_step[1])
        if single and low_and_high[0] not in ("*", "?"):
            end = hi  # "N/step" means "N-max/step"
        if step > 1:
            star = False
    else:
        raise ValueError(f"too many slashes: {expr}")
    if start < lo:
        raise ValueError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ValueError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ValueError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def parse_standard(text: str, tz: _dt.tzinfo = _dt.timezone.utc):
    """cron.ParseStandard: five fields or a descriptor; raises ValueError with robfig's message."""
    spec = text.strip()
    if not spec:
        raise ValueError("empty spec string")
    if spec.startswith("@"):
        if spec.startswith("@every "):
            dur = spec[len("@every "):]
            try:
                ns = parse_go_duration(dur)
            except ValueError as e:
                raise ValueError(f"failed to parse duration {spec}: {e}") from None
            # Every: at least one second, rounded down to whole seconds
            return ConstantDelaySchedule(text, max(1, ns // 10**9))
        if spec not in DESCRIPTORS:
            raise ValueError(f"unrecognized descriptor: {spec}")
        spec = DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    sets, stars = [], []
    for f, (lo, hi, names) in zip(fields, BOUNDS):
        acc: set[int] = set()
        star = False
        for part in f.split(","):
            bits, s = get_range(part, lo, hi, names)
            acc |= bits
            star = star or s
        sets.append(acc)
        stars.append(star)
    return CronSchedule(text, sets[0], sets[1], sets[2], sets[3], sets[4], stars[2], stars[4], tz)
