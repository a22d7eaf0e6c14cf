"""The byline vocabulary and the credit forms of real portal pages (pipelines.byline)."""

from __future__ import annotations

import pytest

from pipelines.byline import parse_byline
from pipelines.vocab import CREDIT_FIELDS, FIELD_OF_LABEL, LABEL_COLON, META_LINE

# --- One vocabulary for both stages ---------------------------------------------------


@pytest.mark.parametrize("label", sorted(FIELD_OF_LABEL))
def test_every_label_is_counted_in_an_info_line(label: str) -> None:
    assert LABEL_COLON.findall(f"{label}:某某 ") == [label]


@pytest.mark.parametrize(
    "label", sorted(w for w, f in FIELD_OF_LABEL.items() if f in CREDIT_FIELDS)
)
def test_every_credit_label_starts_a_credit_line(label: str) -> None:
    """What the byline stage reads as a credit, the body stage cuts as one."""
    assert META_LINE.match(f"{label}:张三")
    assert META_LINE.match(f"【{label}: 张三】")


def test_date_and_widget_labels_are_not_credit_lines() -> None:
    assert not META_LINE.match("发布时间:2024-05-20")
    assert not META_LINE.match("浏览次数:12")


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("Author: John Smith", "authors", ["John Smith"]),
        ("Editor: 王五", "editors", ["王五"]),
        ("审签:赵六", "responsible_editors", ["赵六"]),
        ("采写:钱七", "authors", ["钱七"]),
    ],
)
def test_labels_of_either_stage_are_read(line: str, field: str, value: list[str]) -> None:
    assert META_LINE.match(line)
    assert getattr(parse_byline(line), field) == value
