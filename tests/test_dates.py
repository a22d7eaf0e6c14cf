"""The date table (pipelines.dates): every printed form, and dates on real page layouts."""

from __future__ import annotations

import pytest

from pipelines.dates import DATE_FORMS, date_form, find_date, parse_fetched

FETCHED = parse_fetched("2024-05-20T15:00:00+08:00")

# One example per row of the table, with what it reads to and at which precision.
EXAMPLES = {
    "digits": ("发布时间:2024-05-18 09:30", "2024-05-18T09:30:00+08:00", "minute"),
    "split": ("2023 06/12 08:15", "2023-06-12T08:15:00+08:00", "minute"),
    "chinese": ("二〇二三年十二月九日", "2023-12-09", "day"),
    "month-day": ("5月3日 10:20", "2024-05-03T10:20:00+08:00", "minute"),
    "dash-month-day": ("12-30 10:20", "2023-12-30T10:20:00+08:00", "minute"),
    "ago": ("3小时前", "2024-05-20T12:00:00+08:00", "minute"),
    "now": ("刚刚", "2024-05-20T15:00:00+08:00", "minute"),
    "day-word": ("昨天 10:20", "2024-05-19T10:20:00+08:00", "minute"),
}


def test_every_form_of_the_table_has_an_example() -> None:
    assert {form.name for form in DATE_FORMS} == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_form_reads_its_example(name: str) -> None:
    text, value, precision = EXAMPLES[name]
    form = date_form(text)
    assert form is not None
    assert form.name == name
    found = find_date(text, FETCHED)
    assert found is not None
    assert (found.value, found.precision) == (value, precision)
    assert found.relative == form.relative


@pytest.mark.parametrize("name", sorted(f.name for f in DATE_FORMS if f.relative))
def test_relative_forms_are_skipped_outside_info_lines(name: str) -> None:
    assert find_date(EXAMPLES[name][0], FETCHED, relative=False) is None
