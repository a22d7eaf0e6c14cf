"""pipelines.mojibake: repairs on seed sentences, and no change on ordinary text."""

from __future__ import annotations

from pathlib import Path

import ftfy.bad_codecs  # noqa: F401  (sloppy-windows-1252)
import pytest

from pipelines.mojibake import plausibility, repair_mojibake
from pipelines.normalize import normalize_text
from pipelines.script import strip_pinyin, to_simplified

DATA = Path(__file__).parent / "data" / "text"
SEEDS = Path(__file__).resolve().parent / "data" / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))

EXPECTED_003 = (
    "调研期间,于天敏出席座谈会,听取了本溪市市域社会治理现代化试点工作汇报,"
    "与部分市直政法机关、县区政法机关主要负责同志进行了面对面交流。“党委政府站位高、"
    "推动工作举措实、创新探索有新招。”于天敏对本溪市市域社会治理现代化试点工作给予肯定。"
)


def _seed003() -> list[str]:
    return (DATA / "seed003_paragraphs.txt").read_text(encoding="utf-8").splitlines()


def test_shifted_gbk_runs_of_seed_003_are_repaired() -> None:
    paragraph = _seed003()[1]
    assert "交流?!包h委政府站位高" in paragraph
    repaired, fixes = repair_mojibake(paragraph)
    assert fixes == ["mojibake:gbk_shift"]
    assert "面對面交流。“黨委政府站位高" in repaired
    assert "有新招。”于天敏對本溪市市域社會(huì)治理" in repaired
    text, _ = strip_pinyin(repaired)
    text, _ = to_simplified(text)
    assert normalize_text(text).startswith(EXPECTED_003)


def test_full_width_shifted_run_before_nfkc() -> None:
    repaired, fixes = repair_mojibake("<p>面對面交流?！包h委政府站位高</p>")
    assert repaired == "<p>面對面交流。“黨委政府站位高</p>"
    assert fixes == ["mojibake:gbk_shift"]


def test_lost_character_before_digit_becomes_replacement() -> None:
    paragraph = _seed003()[0]
    repaired, fixes = repair_mojibake(paragraph)
    assert repaired.startswith("本報(bào)訊\ufffd7月15日,省委常委")
    assert fixes == ["lost_bytes"]


@pytest.mark.parametrize(
    "text",
    [
        "记者问:这项工作什么时候完成?2021年底前完成。",
        '<a href="/list.jsp?2021">新闻?</a>',
        "这是为什么?我们认为原因有三。",
    ],
)
def test_real_question_marks_are_kept(text: str) -> None:
    assert repair_mojibake(text) == (text, [])


def test_utf8_read_as_gbk() -> None:
    sentence = "三是创新社会治理方式方法"
    mojibake = sentence.encode("utf-8").decode("gbk")
    assert mojibake == "涓夋槸鍒涙柊绀句細娌荤悊鏂瑰紡鏂规硶"
    assert repair_mojibake(f"<p>{mojibake}</p>") == (f"<p>{sentence}</p>", ["mojibake:utf8_as_gbk"])


def test_utf8_read_as_gbk_with_lost_bytes() -> None:
    mojibake = "辽宁省社会治理工作会议召开".encode().decode("gbk", "replace")
    assert mojibake == "杈藉畞鐪佺ぞ浼氭不鐞嗗伐浣滀細璁\ufffd鍙\ufffd寮\ufffd"
    repaired, fixes = repair_mojibake(f"<h1>{mojibake}</h1>")
    assert repaired == "<h1>辽宁省社会治理工作会\ufffd\ufffd\ufffd</h1>"
    assert fixes == ["mojibake:utf8_as_gbk", "lost_bytes"]


def test_gbk_read_as_latin1() -> None:
    sentence = (
        "7月14日,辽宁省社会治理工作会议在沈阳召开。省委书记、省人大常委会主任张国清出席会议并讲话"
    )
    mojibake = sentence.encode("gbk").decode("sloppy-windows-1252")
    assert mojibake.startswith("7ÔÂ14ÈÕ,ÁÉÄþÊ¡Éç»á")
    assert repair_mojibake(f"<p>{mojibake}</p>") == (
        f"<p>{sentence}</p>",
        ["mojibake:gbk_as_latin1"],
    )


def test_utf8_read_as_latin1() -> None:
    mojibake = "辽宁省社会治理工作会议召开".encode().decode("sloppy-windows-1252")
    assert repair_mojibake(mojibake) == ("辽宁省社会治理工作会议召开", ["mojibake:utf8_as_latin1"])


@pytest.mark.parametrize(
    "text",
    [
        "<p>Copyright © 1997-2020 · 川公网安备 51010402001487号</p>",
        "<p>Hôtel Élysée, 2×3=6, 温度 25°C, ¥100</p>",
        "<p>省委常委、政法委书记于天敏来到本溪市……“千名民警联系百万群众”</p>",
        "<p>涓涓细流汇成江河,沙家浜的故事。</p>",
        "<p>於梨華、乾隆、慰藉。</p>",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert repair_mojibake(text) == (text, [])


def test_all_five_seeds_are_checked() -> None:
    assert len(SEED_FILES) == 5


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_seeds_change_only_where_damaged(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    repaired, fixes = repair_mojibake(text)
    if path.name.startswith("003"):
        assert fixes == ["mojibake:gbk_shift", "lost_bytes"]
        assert len(repaired) < len(text)
    else:
        assert (repaired, fixes) == (text, [])


def test_plausibility_separates_chinese_from_mojibake() -> None:
    assert plausibility("于天敏对本溪市市域社会治理现代化试点工作给予肯定。") == 1.0
    assert plausibility("庇谔烀魧Ρ鞠惺杏蛏鐣鍏ㄧ渷") < 0.5
