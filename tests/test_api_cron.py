"""robfig/cron/v3's standard parser, shared by CronJob validation and the CronJob controller."""

import datetime as dt

import pytest

from k8slab.api.cron import ConstantDelaySchedule, CronSchedule, parse_go_duration, parse_standard
from k8slab.api.validation import parse_cron_schedule


def t(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)


def test_every_is_a_constant_delay_on_whole_seconds():
    s = parse_standard("@every 1h30m")
    assert isinstance(s, ConstantDelaySchedule) and s.delay_s == 5400
    assert s.next(t("2026-01-01 10:00:07")) == t("2026-01-01 11:30:07")
    assert parse_standard("@every 1500ms").delay_s == 1      # rounded down to the second
    assert parse_standard("@every 10ms").delay_s == 1        # and never below one second


@pytest.mark.parametrize("text,ns", [("90s", 90 * 10**9), ("1.5h", 5400 * 10**9), ("2m3s", 123 * 10**9),
                                     ("250ms", 250 * 10**6), ("0", 0)])
def test_go_durations(text, ns):
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize("schedule,message", [
    ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
    ("@every 5d", 'failed to parse duration @every 5d: time: unknown unit "d" in duration "5d"'),
    ("@every x1h", 'failed to parse duration @every x1h: time: invalid duration "x1h"'),
    ("*/x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("1/2/3 * * * *", "too many slashes: 1/2/3"),
])
def test_validation_and_controller_share_the_parser_and_its_messages(schedule, message):
    for parse in (parse_cron_schedule, parse_standard):
        with pytest.raises(ValueError) as info:
            parse(schedule)
        assert str(info.value) == message


def test_star_bits_decide_how_the_day_fields_combine():
    either = parse_standard("0 0 13 * fri")           # the 13th, or any Friday
    assert isinstance(either, CronSchedule) and not either.dom_star and not either.dow_star
    assert either.next(t("2026-02-01 00:00:00")) == t("2026-02-06 00:00:00")   # a Friday before the 13th
    both = parse_standard("0 0 * * fri")              # "*" in day of month: only Fridays
    assert both.dom_star and both.next(t("2026-02-06 00:00:00")) == t("2026-02-13 00:00:00")
