"""``python -m crawler extract`` (crawler.commands.extract)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from crawler.__main__ import main
from crawler.settings import DOWNLOAD_MAXSIZE, PAGE_MAX_BYTES

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SEED4 = FIXTURES / "scfzw" / "004_gb18030_declared_gb2312" / "page.html"
SEED1 = FIXTURES / "dali" / "001_bullets_empty_source" / "page.html"
LIST = FIXTURES / "list_pages" / "trs_column_index" / "page.html"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict], str]:
    status = main(["extract", *argv])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_one_record_per_file_in_input_order(capsys: pytest.CaptureFixture[str]) -> None:
    status, records, _ = run(capsys, str(SEED4), str(SEED1))
    assert status == 0
    assert [r["title"] for r in records] == [
        "渠县召开社会治理形势分析暨平安渠县建设工作会",
        "我州召开平安大理建设暨市域社会治理现代化试点工作推进会",
    ]
    assert records[0]["url"] == "file://" + str(SEED4.resolve())
    assert records[0]["encoding"] == "gb18030"


def test_output_is_utf8_one_line_each() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "extract", str(SEED4)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0
    out = proc.stdout.decode("utf-8")
    assert out.count("\n") == 1
    assert "渠县政法委" in out
    assert "\\u" not in out


def test_url_option(capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://www.scfzw.net/shzl/2021-09/02/content_8891234.html"
    status, records, _ = run(capsys, "--url", url, str(SEED4))
    assert status == 0
    assert records[0]["url"] == url
    assert records[0]["published_at"] == "2021-09-02T17:33:01+08:00"


def test_url_with_several_files_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, records, err = run(capsys, "--url", "http://x.cn/a.html", str(SEED4), str(SEED1))
    assert status == 2
    assert records == []
    assert "exactly one FILE" in err


def test_bad_files_are_reported_and_the_rest_processed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    missing = tmp_path / "missing.html"
    status, records, _ = run(capsys, str(binary), str(SEED4), str(missing))
    assert status == 1
    assert [sorted(r) for r in (records[0], records[2])] == [["error", "file", "url"]] * 2
    assert "not an HTML document" in records[0]["error"]
    assert records[1]["source"] == "渠县政法委"
    assert records[2]["file"] == str(missing)


def test_rejected_pages_are_printed_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    status, records, _ = run(capsys, str(LIST))
    assert status == 0
    assert "list_page" in records[0]["quality_flags"]


def test_empty_page_gets_the_empty_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    page = tmp_path / "blank.html"
    page.write_text("<html><head><title>x</title></head><body></body></html>", "utf-8")
    status, records, _ = run(capsys, str(page))
    assert status == 0
    assert records[0]["text"] == ""
    assert "empty" in records[0]["quality_flags"]


def test_encoding_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "big5.html"
    page.write_bytes(
        "<html><body><h1>市委政法委召開會議</h1><p>會議強調要堅持以人民為中心。</p></body></html>".encode(
            "big5"
        )
    )
    status, records, _ = run(capsys, "--encoding", "big5", str(page))
    assert status == 0
    assert records[0]["title"] == "市委政法委召开会议"
    status, _, err = run(capsys, "--encoding", "no-such-codec", str(page))
    assert status == 2
    assert "unknown encoding" in err


def test_unknown_site(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="unknown site"):
        main(["extract", "--site", "no_such_portal", str(SEED4)])


def test_site_option_uses_the_portal_definition(capsys: pytest.CaptureFixture[str]) -> None:
    status, records, _ = run(capsys, "--site", "scfzw", str(SEED4))
    assert status == 0
    assert (records[0]["site"], records[0]["site_name"]) == ("scfzw", "四川法制网")
    assert records[0]["text"].endswith("夏华勇、张洪波、董中平、钱文军等县领导参加会议。")


def test_archived_pages_gzip_and_byte_order_marks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    html = SEED1.read_bytes().decode("utf-8")
    files = {
        "page.html.gz": gzip.compress(html.encode("utf-8")),
        "utf8-bom.html": html.encode("utf-8-sig"),
        "utf16-bom.html": html.encode("utf-16"),
        "utf16le.html": html.encode("utf-16-le"),
        "utf16be.html": html.encode("utf-16-be"),
        "utf16-bom.html.gz": gzip.compress(html.encode("utf-16")),
        "gzip-without-suffix.html": gzip.compress(html.encode("utf-8")),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    status, records, _ = run(capsys, str(SEED1), *(str(tmp_path / n) for n in files))
    assert status == 0, records
    control, *others = records
    assert control["title"] == "我州召开平安大理建设暨市域社会治理现代化试点工作推进会"
    for name, record in zip(files, others, strict=True):
        same = {k: record[k] for k in ("title", "text", "published_at", "authors", "source")}
        assert same == {k: control[k] for k in same}, name
    by_name = dict(zip(files, others, strict=True))
    assert by_name["utf16be.html"]["encoding"] == "utf-16-be"
    assert "charset:utf-16-le-without-bom" in by_name["utf16le.html"]["fixes"]


def test_gzip_is_inflated_no_further_than_download_maxsize(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.html.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(b"<html><body>")]
    block = b" " * (1024 * 1024)
    parts += [compressor.compress(block) for _ in range(DOWNLOAD_MAXSIZE // len(block) + 1)]
    bomb.write_bytes(b"".join(parts) + compressor.flush())
    assert bomb.stat().st_size < 100_000  # over 32 MiB once inflated
    broken = tmp_path / "broken.html.gz"
    broken.write_bytes(gzip.compress(SEED1.read_bytes())[:200])
    status, records, _ = run(capsys, str(bomb), str(broken), str(SEED1))
    assert status == 1
    assert "over DOWNLOAD_MAXSIZE" in records[0]["error"]
    assert "broken gzip data" in records[1]["error"]
    assert records[2]["title"]


def test_the_crawl_limits_apply(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    huge = tmp_path / "huge.html"
    html = SEED1.read_bytes()
    huge.write_bytes(html.replace(b"<body", b"<!--" + b"x" * PAGE_MAX_BYTES + b"--><body", 1))
    links = tmp_path / "links.html"
    anchors = "".join(f'<a href="/a/{i}.html">第{i}条链接标题文字</a>' for i in range(5000))
    links.write_text(f"<html><body>{anchors}</body></html>", "utf-8")
    status, records, _ = run(capsys, str(huge), str(links))
    assert status == 0  # printed with the reason, like every page the crawl drops
    assert records[0]["quality_flags"] == ["too_large"]
    assert records[0]["text"] == ""
    assert "links_only" in records[1]["quality_flags"]


def test_a_page_over_the_time_limit_is_abandoned_and_the_next_one_processed() -> None:
    from pageworkers import slow_on_request

    from crawler.commands.extract import PageRunner
    from crawler.items import PageItem

    def page(path: str) -> PageItem:
        return PageItem(
            url=f"http://www.example.gov.cn{path}/t20200623_1.html",
            body=SEED1.read_bytes(),
            site="file",
            site_name="",
            fetched_at="2020-06-24T08:00:00+08:00",
        )

    runner = PageRunner(2.0, {}, func=slow_on_request)
    try:
        first = runner.run(page("/first"))
        assert runner.pool is not None
        worker = next(iter(runner.pool._processes.values()))
        with pytest.raises(TimeoutError, match="more than 2 s"):
            runner.run(page("/hang"))
        after = runner.run(page("/ok"))
    finally:
        runner.close()
    assert after.title == first.title == "我州召开平安大理建设暨市域社会治理现代化试点工作推进会"
    worker.join(timeout=10)
    assert not worker.is_alive()  # the hung worker was ended, not left running
