"""pipelines.charset.decode_html on pages written in the portals' real encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.charset import canonical_encoding, decode_html

DATA = Path(__file__).parent / "data" / "text"


def _load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _h1(text: str) -> str:
    return text[text.index("<h1>") + 4 : text.index("</h1>")]


def test_gb18030_bytes_declared_gb2312_keep_gbk_only_characters() -> None:
    decoded = decode_html(_load("gb18030_declared_gb2312.html"))
    assert decoded.encoding == "gb18030"
    assert decoded.declared == "gb2312"
    assert decoded.fixes == ["charset:gb2312->gb18030"]
    assert "<p>朱镕基同志题词。县委常委、政法委书记夏华勇、王堃出席会议。</p>" in decoded.text
    assert "\ufffd" not in decoded.text
    # Python's own gb2312 codec fails on these pages: that is why GB18030 is used.
    with pytest.raises(UnicodeDecodeError):
        _load("gb18030_declared_gb2312.html").decode("gb2312")


def test_header_utf8_contradicted_by_gbk_bytes_and_meta() -> None:
    decoded = decode_html(_load("gbk_meta_header_utf8.html"), "text/html; charset=UTF-8")
    assert decoded.encoding == "gb18030"
    assert decoded.declared == "utf-8"
    assert decoded.fixes == ["charset:declared-utf-8-but-gb18030", "charset:gbk->gb18030"]
    assert _h1(decoded.text) == "渠县召开社会治理形势分析暨平安渠县建设工作会"


def test_utf8_page_declaring_gb2312_is_utf8() -> None:
    decoded = decode_html(_load("utf8_declared_gb2312.html"), "text/html")
    assert decoded.encoding == "utf-8"
    assert decoded.declared == "gb2312"
    assert decoded.fixes == ["charset:declared-gb2312-but-utf-8"]
    assert "王堃出席会议" in decoded.text


def test_utf8_header_and_gbk_meta_on_utf8_bytes() -> None:
    body = _load("utf8_declared_gb2312.html").replace(b"charset=gb2312", b"charset=gbk")
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert decoded.encoding == "utf-8"
    assert decoded.fixes == ["charset:declared-gbk-but-utf-8"]


def test_big5_page() -> None:
    decoded = decode_html(_load("big5.html"))
    assert decoded.encoding == "big5hkscs"
    assert decoded.declared == "big5"
    assert decoded.fixes == ["charset:big5->big5hkscs"]
    assert _h1(decoded.text) == "于天敏赴本溪市調研市域社會治理現代化工作"
    assert '<a href="/index.html">首頁</a>' in decoded.text


def test_big5_bytes_declared_gb2312_are_read_as_big5() -> None:
    body = _load("big5_declared_gb2312.html")
    body.decode("gb18030")  # GB18030 accepts these bytes: only plausibility tells them apart
    decoded = decode_html(body)
    assert decoded.encoding == "big5hkscs"
    assert decoded.fixes == ["charset:declared-gb2312-but-big5hkscs"]
    assert "於天敏強調" in decoded.text


@pytest.mark.parametrize(
    ("name", "encoding", "expected"),
    [
        ("gbk_undeclared.html", "gb18030", "渠县召开社会治理形势分析暨平安渠县建设工作会"),
        ("big5_undeclared.html", "big5hkscs", "于天敏赴本溪市調研市域社會治理現代化工作"),
    ],
)
def test_sniffing_without_declaration(name: str, encoding: str, expected: str) -> None:
    decoded = decode_html(_load(name))
    assert decoded.encoding == encoding
    assert decoded.declared is None
    assert decoded.fixes == []
    assert _h1(decoded.text) == expected


def test_utf8_bom_wins_over_meta() -> None:
    decoded = decode_html(_load("bom_utf8.html"))
    assert decoded.encoding == "utf-8"
    assert decoded.declared == "utf-8"
    assert decoded.fixes == ["charset:declared-gb2312-but-utf-8"]
    assert decoded.text.startswith("<!DOCTYPE html")


def test_utf16_bom() -> None:
    decoded = decode_html(_load("bom_utf16le.html"), "text/html; charset=gbk")
    assert decoded.encoding == "utf-16-le"
    assert decoded.text.startswith("<!DOCTYPE html")
    assert _h1(decoded.text) == "渠县召开社会治理形势分析暨平安渠县建设工作会"


def test_lost_gb_byte_becomes_one_replacement_and_keeps_markup() -> None:
    decoded = decode_html(_load("gb_invalid_bytes.html"))
    assert decoded.encoding == "gb18030"
    assert decoded.fixes == ["charset:gb2312->gb18030", "lost_bytes"]
    assert "县长王飞主持会议\ufffd</p>\n<p>朱镕基" in decoded.text
    assert decoded.text.count("\ufffd") == 1


def test_utf8_page_with_a_damaged_character_stays_utf8() -> None:
    decoded = decode_html(_load("utf8_invalid_bytes.html"))
    assert decoded.encoding == "utf-8"
    assert decoded.fixes == ["lost_bytes"]
    assert "县委副书记、\ufffd长王飞主持会议。" in decoded.text
    assert decoded.text.count("\ufffd") == 1


def test_override_wins() -> None:
    body = _load("gbk_meta_header_utf8.html")
    decoded = decode_html(body, "text/html; charset=utf-8", override="GBK")
    assert decoded.encoding == "gb18030"
    assert decoded.fixes == ["charset:override"]
    assert "王堃出席会议" in decoded.text


def test_ascii_page_follows_declaration() -> None:
    decoded = decode_html(b"<html><body>Hello</body></html>", "text/html; charset=gb2312")
    assert decoded.text == "<html><body>Hello</body></html>"
    assert decoded.encoding == "gb18030"
    assert decoded.declared == "gb2312"
    assert decoded.fixes == []


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ("gb_2312-80", "gb18030"),
        ("cp936", "gb18030"),
        ("big5", "big5hkscs"),
        ("Big5-HKSCS", "big5hkscs"),
        ("utf8", "utf-8"),
        ("no-such-charset", None),
        (None, None),
    ],
)
def test_canonical_encoding(label: str | None, codec: str | None) -> None:
    assert canonical_encoding(label) == codec
