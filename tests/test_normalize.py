"""pipelines.normalize: NFKC, invisible characters, spaces, paragraphs."""

from __future__ import annotations

import pytest

from pipelines.normalize import normalize_paragraphs, normalize_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Full-width forms become ASCII; 。、“” have no compatibility form and stay.
        (
            "7月14日，会议召开：“疫情要防住、经济要稳住”！",
            "7月14日,会议召开:“疫情要防住、经济要稳住”!",
        ),
        ("各市、县（市、区）和沈抚示范区设分会场。", "各市、县(市、区)和沈抚示范区设分会场。"),
        ("　　本报讯\u00a07月15日", "本报讯 7月15日"),
        ("于天\u200b敏\u200d来到\ufeff本溪\u2060市", "于天敏来到本溪市"),
        ("张国清讲话  \t 李乐成主持", "张国清讲话 李乐成主持"),
        ("(辽宁日报记者\u3000杨忠厚)", "(辽宁日报记者 杨忠厚)"),
        ("市域社会\n    治理现代化", "市域社会治理现代化"),
        ("Copyright ©\n 1997-2020", "Copyright © 1997-2020"),
        ("本报讯\ufffd7月15日", "本报讯\ufffd7月15日"),
        ("\u00a0\u3000 \n", ""),
        ("", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_normalize_paragraphs_drops_empty_ones() -> None:
    paragraphs = [
        "　　7月14日，辽宁省社会治理工作会议在沈阳召开。",
        "\u00a0",
        "",
        "  省委副书记胡玉亭出席会议。（辽宁日报记者 杨忠厚）  ",
    ]
    assert normalize_paragraphs(paragraphs) == (
        "7月14日,辽宁省社会治理工作会议在沈阳召开。\n"
        "省委副书记胡玉亭出席会议。(辽宁日报记者 杨忠厚)"
    )


def test_normalize_paragraphs_of_nothing() -> None:
    assert normalize_paragraphs([]) == ""
    assert normalize_paragraphs(iter([" ", "\u200b"])) == ""
