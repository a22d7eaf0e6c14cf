"""Per-stage cost of the text-repair stages on the five seed pages wrapped in HTML.

    python bench/text_stages.py [--repeat N]

Each seed text is wrapped in a portal-like page (navigation, scripts, links,
footer: about 12-60 KB), encoded as its portal serves it (seed 004 in GB18030
declared gb2312, the others in UTF-8), and every stage is timed on it: median
microseconds of N runs.  One-off set-up (tables, OpenCC converters) is reported
separately.  Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines import mojibake, script  # noqa: E402
from pipelines.charset import decode_html  # noqa: E402
from pipelines.mojibake import repair_mojibake  # noqa: E402
from pipelines.normalize import normalize_paragraphs  # noqa: E402
from pipelines.script import strip_pinyin, to_simplified  # noqa: E402

SEEDS = ROOT / "tests" / "data" / "seeds"
NAV = "".join(
    f'<li><a href="/news/list_{i}.html?page=1" title="栏目{i}">政法要闻{i}</a></li>\n'
    for i in range(60)
)
SCRIPT = (
    '<script type="text/javascript">var _hmt = _hmt || [];(function() {var hm = '
    "document.createElement('script');hm.src = 'https://hm.example.cn/hm.js?abc';"
    "var s = document.getElementsByTagName('script')[0];s.parentNode.insertBefore(hm, s);"
    "})();</script>\n"
)


def _page(text: str, charset: str) -> str:
    lines = text.split("\n")
    body = "\n".join(f"<p>{line}</p>" for line in lines[1:] if line.strip())
    return (
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Type" '
        f'content="text/html; charset={charset}" /><title>{lines[0]}</title>{SCRIPT * 3}'
        f'</head><body><div class="nav"><ul>{NAV}</ul></div><div class="main">'
        f'<h1>{lines[0]}</h1>{body}</div><div class="side"><ul>{NAV}</ul></div>'
        f'<div class="footer">版权所有 Copyright &copy; 2020</div></body></html>'
    )


def _median_us(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    mojibake._table()
    mojibake._lut()
    setup_mojibake = time.perf_counter() - start
    start = time.perf_counter()
    script._script_lut()
    script._exceptions()
    setup_script = time.perf_counter() - start
    print(
        f"set-up: mojibake tables {setup_mojibake * 1e3:.1f} ms, "
        f"script tables + OpenCC {setup_script * 1e3:.1f} ms"
    )

    header = ("seed", "KB", "codec", "decode", "mojibake", "pinyin", "t2s", "normalize")
    print("{:<5}{:>6}  {:<9}{:>9}{:>10}{:>9}{:>9}{:>11}".format(*header))
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        codec, label = ("gb18030", "gb2312") if path.name.startswith("004") else ("utf-8", "utf-8")
        body = _page(text, label).encode(codec, "replace")
        decoded = decode_html(body, f"text/html; charset={label}").text
        repaired, _ = repair_mojibake(decoded)
        stripped, _ = strip_pinyin(repaired)
        # normalize runs on extracted paragraphs, not on the page
        paragraphs = to_simplified(strip_pinyin(repair_mojibake(text)[0])[0])[0].split("\n")
        row = (
            _median_us(partial(decode_html, body, f"text/html; charset={label}"), args.repeat),
            _median_us(partial(repair_mojibake, decoded), args.repeat),
            _median_us(partial(strip_pinyin, repaired), args.repeat),
            _median_us(partial(to_simplified, stripped), args.repeat),
            _median_us(partial(normalize_paragraphs, paragraphs), args.repeat),
        )
        print(
            f"{path.name[:3]:<5}{len(body) / 1024:>6.1f}  {codec:<9}"
            + "".join(f"{value:>{w}.0f}" for value, w in zip(row, (9, 10, 9, 9, 11), strict=True))
        )
    print("microseconds per page, median of", args.repeat, "runs")


if __name__ == "__main__":
    main()
