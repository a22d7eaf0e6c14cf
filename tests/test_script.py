"""pipelines.script: converter pinyin, script detection, traditional -> simplified."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.script import detect_script, strip_pinyin, to_simplified

SEEDS = Path(__file__).resolve().parent / "data" / "seeds"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("歡迎來到遼寧長安網(wǎng)", "歡迎來到遼寧長安網"),
        ("主辦:中共遼寧省委政法委員會(huì)", "主辦:中共遼寧省委政法委員會"),
        ("發(fā)布時(shí)間: 2020-07-16 08:45", "發布時間: 2020-07-16 08:45"),
        ("社會（huì）治理現（xiàn）代化", "社會治理現代化"),
        ("<title>遼寧長安網(wǎng)</title>", "<title>遼寧長安網</title>"),
    ],
)
def test_converter_pinyin_is_removed(text: str, expected: str) -> None:
    assert strip_pinyin(text) == (expected, ["pinyin_removed"])


@pytest.mark.parametrize(
    "text",
    [
        "和沈抚示范区设分会场。(辽宁日报记者 杨忠厚)",
        "各市、县(市、区)和沈抚示范区设分会场。",
        "<script>f(a);g(ā)</script>",
        "Café (café) 国际在线(CRI)",
        "成立“3+N”(基层人民法庭、公安派出所)联合调解机制",
    ],
)
def test_real_parentheses_are_kept(text: str) -> None:
    assert strip_pinyin(text) == (text, [])


def test_seed_003_labels_lose_their_pinyin() -> None:
    text = (SEEDS / "003_d837cd1c77cbaf36.txt").read_text(encoding="utf-8")
    stripped, fixes = strip_pinyin(text)
    assert fixes == ["pinyin_removed"]
    assert "來源:遼寧法制報 | 作者:駐省委政法委首席記者 白國軍 | 發布時間: 2020-07-16 08:45" in (
        stripped
    )
    assert "(" not in stripped
    # The mojibake run swallowed this "(": pipelines.mojibake restores it first.
    assert "鐣?huì)治理" in stripped


def test_detect_script() -> None:
    assert detect_script("辽宁省社会治理工作会议召开") == "simplified"
    assert detect_script("遼寧省社會治理工作會議召開") == "traditional"
    assert detect_script("辽宁省社会治理工作會議召開,國家") == "mixed"
    assert detect_script("<html><body>Hello</body></html>") == "simplified"
    # 於, 乾 and 著 are also simplified characters: no traditional signal alone.
    assert detect_script("於梨华、乾隆、著名") == "simplified"


@pytest.mark.parametrize(
    ("name", "script"),
    [
        ("000", "simplified"),
        ("001", "simplified"),
        ("002", "simplified"),
        ("003", "traditional"),
        ("004", "simplified"),
    ],
)
def test_detect_script_on_seeds(name: str, script: str) -> None:
    (path,) = SEEDS.glob(f"{name}_*.txt")
    assert detect_script(path.read_text(encoding="utf-8")) == script


def test_t2s_mainland_forms() -> None:
    text = "本溪市創新工作載體,著眼於“政治、法治、德治、自治、智治”五治融合"
    assert to_simplified(text) == (
        "本溪市创新工作载体,着眼于“政治、法治、德治、自治、智治”五治融合",
        ["script:t2s"],
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("吉林省松原市乾安縣召開會議,在乾安開會", "吉林省松原市乾安县召开会议,在乾安开会"),
        ("乾清門前,乾寧年間,乾隆皇帝", "乾清门前,乾宁年间,乾隆皇帝"),
        ("醞藉的詩,憑藉實力,乾淨整潔", "酝藉的诗,凭借实力,干净整洁"),
        ("作家於梨華來訪,於是大家歡迎", "作家於梨华来访,于是大家欢迎"),
    ],
)
def test_t2s_exceptions(text: str, expected: str) -> None:
    assert to_simplified(text) == (expected, ["script:t2s"])


def test_simplified_text_is_returned_unchanged() -> None:
    text = "<p>吉林省乾安县召开会议,於梨华、乾隆、慰藉、著名作家。</p>"
    result, fixes = to_simplified(text)
    assert result is text
    assert fixes == []
