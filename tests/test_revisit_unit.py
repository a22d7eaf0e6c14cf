"""Revisits without a crawl: the schedule store, the interval rules, the change classes,
the diff summary, the ``changes`` report, the event schema and the replica's edits."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from crawler.commands import changes as changes_command
from crawler.ids import content_hash, record_id, url_key
from crawler.items import ArticleItem
from crawler.recordschema import SCHEMA_DIR, render, schemas
from crawler.replica.sites import Replica
from crawler.revisit import (
    EVENTS_FILE,
    REMOVED,
    Entry,
    RevisitSchedule,
    Timing,
    parse_time,
    utc_text,
)
from pipelines import changes

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
TEXT = "\n".join(
    [
        "市委政法委召开全体会议，研究部署下一阶段平安建设重点工作，要求各地压实责任。",
        "会议指出，要坚持和发展新时代“枫桥经验”，把矛盾纠纷化解在基层、化解在萌芽状态。",
        "会议强调，要持续深化市域社会治理现代化试点，推动各项措施落地见效，提升群众安全感。",
    ]
)


def record(url: str, text: str = TEXT, **fields: Any) -> ArticleItem:
    base: dict[str, Any] = {
        "id": record_id(url),
        "url": url,
        "site": "demo",
        "site_name": "示例",
        "title": "市委政法委召开全体会议",
        "original_title": None,
        "published_at": "2026-03-01T09:00:00+08:00",
        "published_precision": "minute",
        "source": "示例网",
        "authors": ["王明"],
        "editors": [],
        "responsible_editors": [],
        "text": text,
        "content_hash": content_hash(text),
        "fetched_at": "2026-03-01T10:00:00+08:00",
        "encoding": "utf-8",
        "original_script": "simplified",
    }
    base.update(fields)
    return ArticleItem(**base)


def write_output(out: Path, urls: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "articles.jsonl").open("a", encoding="utf-8") as fh:
        for url in urls:
            fh.write(json.dumps(asdict(record(url)), ensure_ascii=False) + "\n")


URLS = [f"http://www.example.gov.cn/art/2026/3/1/{n}.html" for n in range(5)]


def open_schedule(tmp_path: Path, timing: Timing | None = None) -> RevisitSchedule:
    schedule = RevisitSchedule(tmp_path / "state", tmp_path / "out", timing or Timing())
    return schedule


# --- the interval rules --------------------------------------------------------------


def test_interval_grows_while_unchanged_and_shrinks_after_a_change_within_the_bounds() -> None:
    timing = Timing(min_interval=1.0, max_interval=90.0, backoff=2.0)
    entry = Entry(key="k", url="http://x.cn/a.html", next_visit="", interval=1.0, content_hash="h")
    seen = []
    for _ in range(8):
        timing.advance(entry, NOW, "unchanged")
        seen.append(entry.interval)
    assert seen == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 90.0, 90.0]
    assert entry.next_visit == utc_text(NOW + timedelta(days=90))
    timing.advance(entry, NOW, "modified")
    assert entry.interval == 45.0
    for _ in range(10):
        timing.advance(entry, NOW, "removed")
    assert entry.interval == 1.0
    timing.advance(entry, NOW, "not_modified")
    assert entry.interval == 2.0
    # a portal that is down or blocking: the interval stays, the article is tried again soon
    timing.advance(entry, NOW, "unreachable")
    assert entry.interval == 2.0
    assert entry.next_visit == utc_text(NOW + timedelta(days=1))
    assert entry.last_outcome == "unreachable"


# --- the schedule store ----------------------------------------------------------------


def test_every_written_article_gets_an_entry_due_after_the_minimum_interval(
    tmp_path: Path,
) -> None:
    write_output(tmp_path / "out", URLS)
    schedule = open_schedule(tmp_path)
    info = schedule.open()
    assert (info.entries, info.added, info.corrupt) == (5, 5, 0)
    entry = schedule.entries[url_key(URLS[0])]
    fetched = parse_time("2026-03-01T10:00:00+08:00")
    assert fetched is not None
    assert entry.next_visit == utc_text(fetched + timedelta(days=1))
    assert entry.content_hash == content_hash(TEXT)
    assert schedule.due(fetched + timedelta(hours=23), 10) == []
    assert len(schedule.due(fetched + timedelta(days=1), 10)) == 5
    assert len(schedule.due(fetched + timedelta(days=1), 3)) == 3  # REVISIT_MAX_PER_RUN
    schedule.close()

    again = open_schedule(tmp_path)
    info = again.open()
    assert (info.entries, info.added, info.replayed, info.corrupt) == (5, 0, 0, 0)
    again.close()


def test_records_written_while_open_get_entries_at_close(tmp_path: Path) -> None:
    write_output(tmp_path / "out", URLS[:2])
    schedule = open_schedule(tmp_path)
    schedule.open()
    write_output(tmp_path / "out", URLS[2:])
    key = url_key(URLS[3])
    assert schedule.add_new_records({key: ('"abc"', "Sun, 01 Mar 2026 02:00:00 GMT")}) == 3
    schedule.close()
    again = open_schedule(tmp_path)
    assert again.open().added == 0
    assert again.entries[key].etag == '"abc"'
    assert again.entries[key].last_modified == "Sun, 01 Mar 2026 02:00:00 GMT"


def test_an_updated_entry_survives_a_reopen(tmp_path: Path) -> None:
    write_output(tmp_path / "out", URLS)
    schedule = open_schedule(tmp_path)
    schedule.open()
    entry = schedule.entries[url_key(URLS[1])]
    entry.state = REMOVED
    entry.status = 404
    schedule.timing.advance(entry, NOW, "removed")
    schedule.put(entry)
    schedule.close()
    again = open_schedule(tmp_path)
    again.open()
    assert again.entries[url_key(URLS[1])] == entry


def test_a_corrupt_line_is_a_counted_skip_and_the_schedule_is_made_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_output(tmp_path / "out", URLS)
    schedule = open_schedule(tmp_path)
    schedule.open()
    entry = schedule.entries[url_key(URLS[2])]
    entry.etag = '"v1"'
    schedule.put(entry)
    schedule.close()
    path = tmp_path / "state" / "revisit.log"
    lines = path.read_bytes().split(b"\n")
    target = next(i for i, line in enumerate(lines) if URLS[4].encode() in line)
    lines[target] = lines[target].replace(b"present", b"presenT")  # one flipped byte
    path.write_bytes(b"\n".join(lines))

    again = open_schedule(tmp_path)
    info = again.open()
    assert info.corrupt == 1
    assert info.compacted
    assert "do not match their checksum" in caplog.text
    assert str(path) in caplog.text
    assert set(again.entries) == {url_key(u) for u in URLS}  # made again from the records
    assert again.entries[url_key(URLS[4])].state == "present"
    assert again.entries[url_key(URLS[2])].etag == '"v1"'  # intact lines are kept
    again.close()
    third = open_schedule(tmp_path)
    assert third.open().corrupt == 0  # the compacted log is clean


def test_a_garbage_file_is_rebuilt_from_the_output(tmp_path: Path) -> None:
    write_output(tmp_path / "out", URLS)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "revisit.log").write_bytes(b"\x00\xff garbage\nmore garbage\n")
    schedule = open_schedule(tmp_path)
    info = schedule.open()
    assert info.corrupt == 2
    assert info.entries == 5


def test_an_unfinished_last_line_is_cut(tmp_path: Path) -> None:
    write_output(tmp_path / "out", URLS)
    schedule = open_schedule(tmp_path)
    schedule.open()
    schedule.close()
    path = tmp_path / "state" / "revisit.log"
    with path.open("ab") as fh:
        fh.write(b'0123456789abcdef {"key": "www.example.gov')
    again = open_schedule(tmp_path)
    info = again.open()
    assert info.torn > 0
    assert info.corrupt == 0
    assert path.read_bytes().endswith(b"\n")


def test_an_event_written_by_a_killed_run_is_applied_once(tmp_path: Path) -> None:
    write_output(tmp_path / "out", URLS)
    schedule = open_schedule(tmp_path)
    schedule.open()
    schedule.close()
    # the run wrote its event, then died before the schedule line
    event = {
        "url": URLS[0],
        "event": "removed",
        "seen_at": "2026-03-05T08:00:00+08:00",
        "status": 404,
        "content_hash": None,
    }
    (tmp_path / "out" / EVENTS_FILE).write_text(json.dumps(event) + "\n", encoding="utf-8")
    again = open_schedule(tmp_path)
    info = again.open()
    assert info.replayed == 1
    entry = again.entries[url_key(URLS[0])]
    assert (entry.state, entry.status, entry.last_outcome) == ("removed", 404, "removed")
    again.close()
    third = open_schedule(tmp_path)
    assert third.open().replayed == 0
    assert third.entries[url_key(URLS[0])].state == "removed"


# --- the change classes ------------------------------------------------------------------

LISTS = ["http://www.example.gov.cn/zwgk/index.html"]
ART = "http://www.example.gov.cn/zwgk/2026/0301/1.html"
PREVIOUS = asdict(record(ART))


def outcome(status: int | None, rec: ArticleItem | None = None, html: str = "", **kw: Any) -> str:
    fetch = changes.Fetch(status, kw.pop("url", ART), kw.pop("redirected", False), **kw)
    return changes.classify(fetch, rec, html, PREVIOUS, LISTS, 80).kind


def test_statuses_removals_and_refusals() -> None:
    assert outcome(404) == changes.REMOVED
    assert outcome(410) == changes.REMOVED
    assert outcome(304) == changes.NOT_MODIFIED
    assert outcome(503) == changes.UNREACHABLE
    assert outcome(500) == changes.UNREACHABLE
    assert outcome(None, error="TimeoutError") == changes.UNREACHABLE
    assert outcome(403) == changes.BLOCKED
    assert outcome(429) == changes.BLOCKED
    assert outcome(302, location="http://www.example.gov.cn/") == changes.REMOVED
    assert outcome(302, location="http://www.example.gov.cn/other/9.html") == changes.UNREACHABLE


def test_a_redirect_to_the_home_or_a_list_page_is_a_removal_and_to_an_article_is_not() -> None:
    page = record(ART)
    for target in (
        "http://www.example.gov.cn/",
        "http://www.example.gov.cn/index.html",
        "http://www.example.gov.cn/zwgk/",
        "http://www.example.gov.cn/zwgk/index.html",
    ):
        assert outcome(200, page, url=target, redirected=True) == changes.REMOVED, target
    moved = "http://www.example.gov.cn/zwgk/2026/0301/1_new.html"
    assert outcome(200, page, url=moved, redirected=True) == changes.UNCHANGED


def test_soft_404_pages() -> None:
    notice = record(ART, text="您访问的页面不存在", title="提示信息")
    assert outcome(200, notice, "<html><body>您访问的页面不存在</body></html>") == changes.REMOVED
    deleted = record(ART, text="该信息已删除。")
    assert outcome(200, deleted, "<p>该信息已删除。</p>") == changes.REMOVED
    emptied = record(ART, text="", quality_flags=[])
    assert outcome(200, emptied, "<html><body></body></html>") == changes.REMOVED
    # an article that quotes a notice is still an article
    quoting = record(ART, text=TEXT + "\n有群众反映，网站上的通知显示“页面不存在”。")
    assert outcome(200, quoting, "<p>页面不存在</p>") == changes.MODIFIED


def test_a_challenge_page_is_blocked_never_removed() -> None:
    html = "<html><script>document.cookie='__jsl_clearance=1'</script>安全验证</html>"
    page = record(ART, text="", title="安全验证")
    assert outcome(200, page, html) == changes.BLOCKED
    assert outcome(503, None, html) == changes.BLOCKED
    waf = "<html><body><h1>您的访问被拦截</h1><p>网站防火墙</p></body></html>"
    assert outcome(403, None, waf) == changes.BLOCKED
    assert outcome(200, record(ART, text=""), waf) == changes.BLOCKED
    cookie_wall = changes.Fetch(521, ART, cookies=["__jsluid_h=abc; path=/"])
    wall = "<script>document.cookie='x=1'</script>"
    assert changes.classify(cookie_wall, None, wall, PREVIOUS, LISTS, 80).kind == changes.BLOCKED
    # an article mentioning 安全验证 is no challenge
    article = record(ART, text=TEXT.replace("提升群众安全感", "完善网络安全验证机制"))
    assert outcome(200, article, "<p>安全验证</p>") == changes.MODIFIED


def test_what_the_extractor_leaves_out_is_no_change_and_the_rest_is() -> None:
    assert outcome(200, record(ART)) == changes.UNCHANGED
    fetch = changes.Fetch(200, ART)
    edited = record(ART, text=TEXT.replace("全体会议", "第三次全体会议"))
    result = changes.classify(fetch, edited, "", PREVIOUS, LISTS, 80)
    assert (result.kind, result.changed_fields) == (changes.MODIFIED, ["text"])
    retitled = record(ART, title="市委政法委召开第三次全体会议", authors=["李华"])
    result = changes.classify(fetch, retitled, "", PREVIOUS, LISTS, 80)
    assert result.changed_fields == ["title", "authors"]
    # nothing to compare with: no modified
    assert changes.classify(fetch, edited, "", None, LISTS, 80).kind == changes.UNCHANGED


def test_diff_summary_names_the_paragraph_and_the_characters() -> None:
    new = TEXT.replace("研究部署", "认真研究部署")
    summary, chars = changes.diff_summary(TEXT, new)
    assert chars == 2
    assert summary.startswith("-0 +2 chars; ¶1:")
    assert "「」→「认真」" in summary
    added, chars = changes.diff_summary(TEXT, TEXT + "\n会议还通报了近期工作情况。")
    assert chars == len("会议还通报了近期工作情况。")
    assert "¶4+" in added
    long_old, long_new = "甲" * 5000, "乙" * 5000
    summary, chars = changes.diff_summary(long_old, long_new)
    assert chars == 10000
    assert len(summary) <= 240


# --- the report ----------------------------------------------------------------------------


def write_events(out: Path) -> None:
    rows = [
        ("scfzw", "removed", "2026-03-02T10:00:00+08:00", 0, "甲文"),
        ("scfzw", "modified", "2026-03-03T10:00:00+08:00", 12, "乙文"),
        ("scfzw", "modified", "2026-03-10T10:00:00+08:00", 300, "丙文"),
        ("dali", "blocked", "2026-03-04T10:00:00+08:00", 0, "丁文"),
    ]
    for site, kind, seen, chars, title in rows:
        path = out / site / EVENTS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        event = {"url": f"http://{site}.cn/{title}.html", "event": kind, "seen_at": seen}
        event.update(chars_changed=chars, title=title, diff_summary=f"-{chars} +0 chars")
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, ensure_ascii=False) + "\n")
    with (out / "dali" / EVENTS_FILE).open("a") as fh:
        fh.write("not json\n")


def test_changes_report_counts_per_week_and_lists_largest_edits_first(tmp_path: Path) -> None:
    write_events(tmp_path)
    data, bad = changes_command.report(tmp_path)
    assert bad == 1
    scfzw = data["portals"]["scfzw"]
    assert scfzw["weeks"]["2026-W10"]["removed"] == 1
    assert scfzw["weeks"]["2026-W10"]["modified"] == 1
    assert scfzw["weeks"]["2026-W11"]["modified"] == 1
    assert [e["title"] for e in scfzw["events"]] == ["丙文", "乙文", "甲文"]
    assert data["portals"]["dali"]["totals"]["blocked"] == 1
    only, _ = changes_command.report(tmp_path, since="2026-03-03", kinds=["modified"])
    assert list(only["portals"]) == ["scfzw"]
    assert [e["title"] for e in only["portals"]["scfzw"]["events"]] == ["丙文", "乙文"]
    text = changes_command.render(data)
    assert "scfzw: 3 events (1 removed, 2 modified)" in text
    assert text.index("丙文") < text.index("乙文") < text.index("甲文")
    assert "-300 +0 chars" in text


def test_changes_command_json_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawler.__main__ import main

    write_events(tmp_path)
    assert main(["changes", str(tmp_path), "--json", "--event", "blocked"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["portals"]) == ["dali"]
    assert main(["changes", str(tmp_path / "missing")]) == 1
    assert "is not a directory" in capsys.readouterr().err


# --- the event schema ---------------------------------------------------------------------


def test_the_shipped_event_schema_is_the_generated_one_and_accepts_an_event() -> None:
    generated = schemas()["event"]
    assert (SCHEMA_DIR / "event.schema.json").read_text("utf-8") == render(generated)
    event = {
        "id": record_id(ART),
        "url": ART,
        "site": "demo",
        "event": "modified",
        "seen_at": "2026-03-02T20:00:00+08:00",
        "previous_hash": content_hash(TEXT),
        "content_hash": content_hash(TEXT + "。"),
        "status": 200,
        "changed_fields": ["text"],
        "diff_summary": "-0 +1 chars",
        "archive": None,
        "reason": "changed: text",
        "title": "标题",
        "chars_changed": 1,
    }
    jsonschema.Draft202012Validator(generated).validate(event)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(generated).validate({**event, "event": "edited"})


# --- the replica's removals and edits --------------------------------------------------------


def test_replica_removals_edits_and_outages() -> None:
    replica = Replica()
    site = replica.sites["scfzw"]
    host = site.config.host
    articles = site.ordered()
    first, second, third, fourth = (a.path for a in articles[:4])
    before = replica.lookup(host, first)
    assert before is not None
    etag = dict(before.headers)["ETag"]

    replica.edit(site.url(first), ad="限时优惠 点击领取", views=321)
    furnished = replica.lookup(host, first)
    assert furnished is not None
    assert "限时优惠".encode("gb18030") in furnished.body
    assert dict(furnished.headers)["ETag"] != etag  # the bytes changed
    assert dict(furnished.headers)["Last-Modified"] == dict(before.headers)["Last-Modified"]

    replica.edit(site.url(second), paragraph=0, text="第一段改写后的内容。")
    edited = replica.lookup(host, second)
    assert edited is not None
    assert "第一段改写后的内容".encode("gb18030") in edited.body

    replica.remove(site.url(third), "404")
    assert replica.lookup(host, third) is None  # the portal's 404 page
    assert all(a.path != third for a in site.ordered())  # gone from the lists
    replica.remove(site.url(fourth), "redirect_home")
    moved = replica.lookup(host, fourth)
    assert moved is not None
    assert moved.status == 302
    assert dict(moved.headers)["Location"] == site.url("/")
    replica.restore(site.url(third))
    assert replica.lookup(host, third) is not None

    replica.outage(site.url(first), "503")
    down = replica.lookup(host, first)
    assert down is not None
    assert down.status == 503
    replica.outage(site.url(first), "challenge")
    challenge = replica.lookup(host, first)
    assert challenge is not None
    assert challenge.status == 200
    assert changes.challenge_kind(200, challenge.body.decode("gb18030")) == "jiasule"
    with pytest.raises(ValueError, match="'how' must be one of"):
        replica.remove(site.url(first), "vanish")


def test_the_version_on_record_is_the_one_with_the_entrys_hash(tmp_path: Path) -> None:
    from crawler.revisit import RevisitState, load_versions
    from pipelines.store import encode_record

    out = tmp_path / "out"
    write_output(out, URLS[:2])
    edited = record(URLS[0], text=TEXT + "\n补充一段。")
    (out / "versions.jsonl").write_bytes(encode_record(edited))
    found = load_versions(out, {url_key(URLS[0])})
    assert set(found) == {url_key(URLS[0])}  # the other article's lines are left alone
    assert set(found[url_key(URLS[0])]) == {content_hash(TEXT), edited.content_hash}
    schedule = open_schedule(tmp_path)
    schedule.open()
    state = RevisitState("demo", schedule, 10, schedule_info(schedule))
    state.versions = found
    entry = schedule.entries[url_key(URLS[0])]
    previous = state.previous(entry)
    assert previous is not None
    assert previous["text"] == TEXT  # the entry still has the first version's hash
    entry.content_hash = edited.content_hash
    previous = state.previous(entry)
    assert previous is not None
    assert previous["text"] == edited.text


def schedule_info(schedule: RevisitSchedule) -> Any:
    from crawler.revisit import OpenInfo

    return OpenInfo(entries=len(schedule.entries))


def test_a_schedule_line_the_disk_has_no_room_for_leaves_no_part_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short write then ENOSPC: the schedule log keeps its whole lines only, the error
    reaches the caller, and the schedule opens again as it was."""
    import errno
    import os

    write_output(tmp_path / "out", URLS)
    schedule = open_schedule(tmp_path)
    schedule.open()
    path = tmp_path / "state" / "revisit.log"
    before = path.read_bytes()
    entry = schedule.entries[url_key(URLS[2])]
    entry.status = 404
    real_write = os.write
    calls = []

    def full_disk(fd: int, data: Any) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:10]))  # room for 10 bytes
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        schedule.put(entry)
    monkeypatch.setattr(os, "write", real_write)
    assert path.read_bytes() == before  # the 10 bytes were cut again
    schedule.close()
    again = open_schedule(tmp_path)
    info = again.open()
    assert info.torn == 0
    assert info.corrupt == 0
    again.close()
