"""Peak memory and time of the page pipeline per page size, with and without its limits.

    .venv/bin/python bench/faults.py [--sizes 1 4 8 16 32] [--links 20000 200000] [--uncapped]

Each case runs ``crawler.page.process_page`` on one generated page in a fresh
process (after importing and warming up the pipeline on a small page) and
reports the peak resident memory it added (``VmHWM`` after minus ``VmRSS``
before), the seconds it took, the characters of text it gave and its flags:

* ``text``: an article page of N MiB of Chinese paragraphs;
* ``inline``: a short article with an N MiB inline ``data:`` image (base64, as
  CMS editors paste them);
* ``links``: N links in a list, no article text;
* ``flat-links``: N links run together in one block (no line breaks);
* ``paragraphs``: N short paragraphs (``<p>第1段</p>``);
* ``spans``: N ``<span>`` elements in one paragraph.

``capped`` is the crawl's configuration (``PAGE_MAX_BYTES``, ``PAGE_MAX_ELEMENTS``,
``TEXT_MAX_CHARS``);
``--uncapped`` also runs every case with both limits lifted, which shows what
they prevent (the big uncapped cases take minutes and gigabytes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
UNLIMITED = 1 << 40
_SENTENCES = (
    "会议指出，今年以来，全县各级各部门坚持以人民为中心的发展思想，扎实推进矛盾纠纷排查化解。",
    "社会治安防控体系建设和基层社会治理不断加强，全县社会大局保持和谐稳定，群众安全感持续提升。",
    "会议要求，要坚持和发展新时代“枫桥经验”，健全县、乡、村三级矛盾纠纷调处体系。",
    "深化网格化服务管理，推动资源、服务、管理向基层下沉，不断提升基层社会治理能力和水平。",
)
_HEAD = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>某县召开平安建设工作推进会</title>'
    "</head><body><h1>某县召开平安建设工作推进会</h1>"
    '<div class="info">发布时间：2024-07-20 10:00:00 来源：县委政法委</div><div class="content">'
)
_TAIL = "</div></body></html>"


def text_page(size: int) -> bytes:
    paragraph = "<p>" + "".join(_SENTENCES) + "</p>\n"
    count = max(1, (size - len(_HEAD.encode())) // len(paragraph.encode()))
    return (_HEAD + paragraph * count + _TAIL).encode("utf-8")


def inline_page(size: int) -> bytes:
    article = "".join(f"<p>{s * 3}</p>" for s in _SENTENCES)
    image = (
        '<p><img src="data:image/png;base64,' + "iVBORw0KGgoAAAANSUhEUg" * (size // 22) + '"></p>'
    )
    return (_HEAD + article + image + _TAIL).encode("utf-8")


def links_page(count: int, flat: bool = False) -> bytes:
    if flat:
        links = "".join(f'<a href="/a/{i}.html">链接标题第{i}条</a>' for i in range(count))
    else:
        links = "".join(f'<li><a href="/a/{i}.html">链接标题第{i}条</a></li>' for i in range(count))
        links = f"<ul>{links}</ul>"
    return f'<html><head><meta charset="utf-8"></head><body>{links}</body></html>'.encode()


def elements_page(count: int, tag: str) -> bytes:
    if tag == "p":
        inner = "".join(f"<p>第{i}段</p>" for i in range(count))
    else:
        inner = "<p>" + "".join(f"<span>字{i}</span>" for i in range(count)) + "</p>"
    return (_HEAD + inner + _TAIL).encode("utf-8")


def build(kind: str, n: int) -> bytes:
    if kind == "paragraphs":
        return elements_page(n, "p")
    if kind == "spans":
        return elements_page(n, "span")
    if kind == "text":
        return text_page(n * MIB)
    if kind == "inline":
        return inline_page(n * MIB)
    return links_page(n, flat=kind == "flat-links")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def one(kind: str, n: int, capped: bool) -> dict[str, object]:
    """Run one case in this process (called in a child by ``measure``)."""
    import gc

    from crawler.items import PageItem
    from crawler.page import process_page

    def page(body: bytes) -> PageItem:
        return PageItem(
            url="http://bench.invalid/t20240720_1.html",
            body=body,
            site="bench",
            site_name="bench",
            fetched_at="2024-07-21T08:00:00+08:00",
            content_type="text/html; charset=utf-8",
        )

    process_page(page(text_page(20_000)))  # warm-up: trafilatura's and OpenCC's set-up
    body = build(kind, n)
    limits = {} if capped else dict.fromkeys(("max_bytes", "max_elements", "max_chars"), UNLIMITED)
    gc.collect()
    before = _status("VmRSS")
    started = time.perf_counter()
    item = process_page(page(body), **limits)
    seconds = time.perf_counter() - started
    peak = _status("VmHWM")
    return {
        "bytes": len(body),
        "peak_mib": max(0, peak - before) / MIB,
        "seconds": seconds,
        "text_chars": len(item.text),
        "flags": [f for f in item.quality_flags if f not in ("no_date", "short_body")],
    }


def measure(kind: str, n: int, capped: bool, timeout: float) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--one", kind, str(n), "1" if capped else "0"]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 8, 16, 32], help="MiB")
    parser.add_argument("--links", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--elements", type=int, nargs="+", default=[10_000, 25_000, 100_000])
    parser.add_argument("--uncapped", action="store_true", help="also run without the limits")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per case")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, n, capped = args.one
        print(json.dumps(one(kind, int(n), capped == "1")))
        return 0

    from crawler.settings import PAGE_MAX_BYTES, PAGE_MAX_ELEMENTS, TEXT_MAX_CHARS

    print(
        f"PAGE_MAX_BYTES = {PAGE_MAX_BYTES / MIB:g} MiB, "
        f"PAGE_MAX_ELEMENTS = {PAGE_MAX_ELEMENTS:,}, TEXT_MAX_CHARS = {TEXT_MAX_CHARS:,}"
    )
    header = f"{'case':<22} {'limits':<9} {'page MiB':>9} {'peak MiB':>9} {'s':>7} {'text':>10}"
    print(header + "  flags")
    cases = [(k, n) for k in ("text", "inline") for n in args.sizes]
    cases += [(k, n) for k in ("links", "flat-links") for n in args.links]
    cases += [(k, n) for k in ("paragraphs", "spans") for n in args.elements]
    for kind, n in cases:
        for capped in (True, False) if args.uncapped else (True,):
            r = measure(kind, n, capped, args.timeout)
            label = f"{kind} {n}{' MiB' if kind in ('text', 'inline') else ''}"
            limits = "capped" if capped else "uncapped"
            if "error" in r:
                print(f"{label:<22} {limits:<9} {r['error']}", flush=True)
                continue
            print(
                f"{label:<22} {limits:<9} {float(r['bytes']) / MIB:>9.1f} "  # type: ignore[arg-type]
                f"{r['peak_mib']:>9.0f} {r['seconds']:>7.2f} {r['text_chars']:>10,}  "
                f"{','.join(r['flags']) or '-'}",  # type: ignore[arg-type]
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
