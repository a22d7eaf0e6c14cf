"""Revisits end to end: crawl the replica, remove and edit its articles, revisit, and
compare the events with what was done (real ``scrapy crawl`` processes)."""

from __future__ import annotations

import json
import time
import unicodedata
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_incremental_e2e import control, crawl, manifest, read_jsonl

from crawler.commands.changes import report as changes_report
from crawler.ids import record_id
from crawler.recordschema import SCHEMA_DIR
from crawler.warc import KIND_FIELD, ArchivedResponse, iter_records

pytestmark = pytest.mark.e2e

# every known article is due at once (set from the first crawl on: an entry's next
# visit is fixed when it is scheduled)
DUE_NOW = {"REVISIT_MIN_INTERVAL": "0"}


def urls_of(replica: str, site: str) -> list[str]:
    return [a["url"] for a in manifest(replica)["portals"][site]["articles"]]


def events(work: Path, site: str) -> list[dict[str, Any]]:
    return read_jsonl(work / "output" / site / "events.jsonl")


def kinds(found: list[dict[str, Any]]) -> dict[str, str]:
    return {e["url"]: e["event"] for e in found}


def revisit_requests(work: Path, site: str) -> dict[str, int]:
    """Revisit responses archived, per WARC file (name -> count)."""
    counts: dict[str, int] = {}
    for path in sorted((work / "output" / site / "warc").glob("*.warc.gz")):
        counts[path.name] = sum(
            1
            for rec in iter_records(path)
            if isinstance(rec, ArchivedResponse) and rec.warc_fields.get(KIND_FIELD) == "revisit"
        )
    return counts


def revisit_statuses(work: Path, site: str) -> list[int]:
    return [
        rec.status
        for path in sorted((work / "output" / site / "warc").glob("*.warc.gz"))
        for rec in iter_records(path)
        if isinstance(rec, ArchivedResponse) and rec.warc_fields.get(KIND_FIELD) == "revisit"
    ]


def summary(work: Path, site: str) -> dict[str, Any]:
    runs = sorted((work / "output" / site / "runs").glob("*.json"))
    data: dict[str, Any] = json.loads(runs[-1].read_text("utf-8"))
    return data


def test_every_removal_and_edit_gives_exactly_its_event(fresh_replica: Any, tmp_path: Path) -> None:
    replica = fresh_replica.url
    site = "scfzw"
    first = crawl(site, replica, tmp_path, **DUE_NOW)
    assert first.returncode == 0, first.stderr[-3000:]
    urls = urls_of(replica, site)
    assert len(urls) == 6
    gone_404, gone_soft, gone_home, edited, ad_only, challenged = urls
    control(replica, "remove", {"url": gone_404, "how": "404"})
    control(replica, "remove", {"url": gone_soft, "how": "soft404"})
    control(replica, "remove", {"url": gone_home, "how": "redirect_home"})
    new_paragraph = "会议决定，试点工作总结会改在十二月二十一日召开，各地要提前报送材料。"
    control(replica, "edit", {"url": edited, "paragraph": 1, "text": new_paragraph})
    control(replica, "edit", {"url": ad_only, "ad": "限时优惠 点击领取大礼包", "views": 98765})
    control(replica, "outage", {"url": challenged, "kind": "challenge"})
    time.sleep(1.1)  # run summaries are named by the second

    second = crawl(site, replica, tmp_path, "-a", "revisit=1", **DUE_NOW)
    assert second.returncode == 0, second.stderr[-3000:]
    found = events(tmp_path, site)
    assert kinds(found) == {
        gone_404: "removed",
        gone_soft: "removed",
        gone_home: "removed",
        edited: "modified",
        challenged: "blocked",
    }
    assert len(found) == 5  # one line per change
    by_url = {e["url"]: e for e in found}
    assert by_url[gone_404]["status"] == 404
    assert by_url[gone_soft]["reason"].startswith("soft 404")
    assert by_url[gone_home]["reason"].startswith("redirect to http://www.scfzw.net/")
    modified = by_url[edited]
    before = {r["url"]: r for r in first.records()}[edited]
    assert modified["id"] == record_id(edited) == before["id"]
    assert modified["previous_hash"] == before["content_hash"]
    assert modified["content_hash"] != before["content_hash"]
    assert modified["changed_fields"] == ["text"]
    assert modified["chars_changed"] > 0
    assert "¶2" in modified["diff_summary"]
    assert modified["title"] == before["title"]
    assert modified["archive"]["previous"] == before["archive"]
    assert modified["archive"]["current"]["file"].startswith("warc/")
    (version,) = read_jsonl(tmp_path / "output" / site / "versions.jsonl")
    assert version["id"] == before["id"]
    assert version["content_hash"] == modified["content_hash"]
    assert unicodedata.normalize("NFKC", new_paragraph) in version["text"]
    assert version["text"] != before["text"]
    assert set(version) == set(before)  # a full record
    validator = jsonschema.Draft202012Validator(
        json.loads((SCHEMA_DIR / "event.schema.json").read_text("utf-8"))
    )
    for event in found:
        validator.validate(event)
    record_schema = json.loads((SCHEMA_DIR / "record.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(record_schema).validate(version)
    # the unchanged and ad-only articles were answered 304 (conditional requests) or compared
    revisit = summary(tmp_path, site)["revisit"]
    assert revisit["requests"] == 6
    assert revisit["removed"] == 3
    assert revisit["modified"] == 1
    assert revisit["blocked"] == 1
    assert revisit.get("unchanged", 0) + revisit.get("not_modified", 0) == 1
    assert first.records() == second.records()  # articles.jsonl untouched

    # restore two, take one more down in another way, revisit again
    control(replica, "restore", {"url": gone_404})
    control(replica, "restore", {"url": challenged})
    time.sleep(1.1)
    third = crawl(site, replica, tmp_path, "-a", "revisit=1", **DUE_NOW)
    assert third.returncode == 0, third.stderr[-3000:]
    later = events(tmp_path, site)[len(found) :]
    assert kinds(later) == {gone_404: "restored"}
    restored = later[0]
    assert restored["content_hash"] == restored["previous_hash"] == before_hash(first, gone_404)
    assert restored["changed_fields"] == []

    # nothing changed since: no event at all, removed articles are not removed again
    time.sleep(1.1)
    fourth = crawl(site, replica, tmp_path, "-a", "revisit=1", **DUE_NOW)
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    assert len(events(tmp_path, site)) == len(found) + 1
    assert summary(tmp_path, site)["revisit"]["still_removed"] == 2

    data, unreadable = changes_report(tmp_path / "output")
    assert unreadable == 0
    totals = data["portals"][site]["totals"]
    assert totals == {"removed": 3, "modified": 1, "restored": 1, "unreachable": 0, "blocked": 1}
    assert data["portals"][site]["events"][0]["url"] == edited  # the largest edit first


def before_hash(run: Any, url: str) -> str:
    return str({r["url"]: r for r in run.records()}[url]["content_hash"])


def test_other_removals_and_an_outage(fresh_replica: Any, tmp_path: Path) -> None:
    replica = fresh_replica.url
    site = "dali"
    first = crawl(site, replica, tmp_path, **DUE_NOW)
    assert first.returncode == 0, first.stderr[-3000:]
    urls = urls_of(replica, site)
    gone_410, emptied, notice, down, retitled = urls[:5]
    control(replica, "remove", {"url": gone_410, "how": "410"})
    control(replica, "remove", {"url": emptied, "how": "emptied"})
    control(replica, "remove", {"url": notice, "how": "notice"})
    control(replica, "outage", {"url": down, "kind": "503"})
    control(replica, "edit", {"url": retitled, "title": "大理州召开会议（更新）"})
    time.sleep(1.1)
    second = crawl(site, replica, tmp_path, "-a", "revisit=1", **DUE_NOW)
    assert second.returncode == 0, second.stderr[-3000:]
    found = events(tmp_path, site)
    assert kinds(found) == {
        gone_410: "removed",
        emptied: "removed",
        notice: "removed",
        down: "unreachable",
        retitled: "modified",
    }
    by_url = {e["url"]: e for e in found}
    assert by_url[down]["status"] == 503
    assert by_url[retitled]["changed_fields"] == ["title"]
    assert by_url[retitled]["title"] == "大理州召开会议(更新)"  # the record's NFKC title
    assert by_url[retitled]["diff_summary"] is None  # the text did not change

    # the portal still down at the next revisit: no second unreachable event
    time.sleep(1.1)
    third = crawl(site, replica, tmp_path, "-a", "revisit=1", **DUE_NOW)
    assert third.returncode == 0, third.stderr[-3000:]
    assert len(events(tmp_path, site)) == len(found)
    assert summary(tmp_path, site)["revisit"]["unreachable"] == 1


def test_a_run_killed_after_its_events_writes_none_of_them_again(
    fresh_replica: Any, tmp_path: Path
) -> None:
    replica = fresh_replica.url
    site = "scfzw"
    assert crawl(site, replica, tmp_path, **DUE_NOW).returncode == 0
    gone, edited = urls_of(replica, site)[:2]
    control(replica, "remove", {"url": gone, "how": "404"})
    control(
        replica, "edit", {"url": edited, "paragraph": 0, "text": "首段已改写，内容与原稿不同。"}
    )
    log = tmp_path / "state" / site / "revisit.log"
    before = log.read_bytes()
    time.sleep(1.1)
    second = crawl(site, replica, tmp_path, "-a", "revisit=1", **DUE_NOW)
    assert second.returncode == 0, second.stderr[-3000:]
    found = events(tmp_path, site)
    assert kinds(found) == {gone: "removed", edited: "modified"}
    # the schedule as a run killed after writing its events (and versions) leaves it
    log.write_bytes(before)
    time.sleep(1.1)
    third = crawl(site, replica, tmp_path, "-a", "revisit=1", **DUE_NOW)
    assert third.returncode == 0, third.stderr[-3000:]
    assert events(tmp_path, site) == found  # nothing written twice
    assert len(read_jsonl(tmp_path / "output" / site / "versions.jsonl")) == 1
    run = summary(tmp_path, site)
    assert run["revisit"]["schedule_replayed"] == 2
    assert run["revisit"]["still_removed"] == 1


def test_revisits_stay_under_the_cap_and_new_articles_still_come(
    fresh_replica: Any, tmp_path: Path
) -> None:
    replica = fresh_replica.url
    site = "scfzw"
    # with the default minimum interval (1 day) nothing is due right after a crawl
    default = tmp_path / "default"
    assert crawl(site, replica, default).returncode == 0
    time.sleep(1.1)
    early = crawl(site, replica, default, "-a", "revisit=1")
    assert early.returncode == 0, early.stderr[-3000:]
    assert summary(default, site)["revisit"].get("due", 0) == 0
    assert sum(revisit_requests(default, site).values()) == 0

    first = crawl(site, replica, tmp_path, **DUE_NOW)
    assert first.returncode == 0, first.stderr[-3000:]
    known = urls_of(replica, site)

    time.sleep(1.1)
    capped = crawl(site, replica, tmp_path, "-a", "revisit=1", REVISIT_MAX_PER_RUN="2", **DUE_NOW)
    assert capped.returncode == 0, capped.stderr[-3000:]
    run = summary(tmp_path, site)
    assert run["revisit"]["due"] == 2
    assert run["revisit"]["requests"] == 2
    assert sum(revisit_requests(tmp_path, site).values()) == 2  # what went over the wire
    # unchanged pages with validators: conditional requests answered 304, no body
    assert run["revisit"]["not_modified"] == 2
    assert revisit_statuses(tmp_path, site) == [304, 304]

    # a new article (it also changes the "related" box of every page, so no 304 now)
    added = control(replica, "add", {"site": site})["url"]
    time.sleep(1.1)
    again = crawl(site, replica, tmp_path, "-a", "revisit=1", REVISIT_MAX_PER_RUN="2", **DUE_NOW)
    assert again.returncode == 0, again.stderr[-3000:]
    assert added in {r["url"] for r in again.records()}  # new articles are not crowded out
    run = summary(tmp_path, site)
    assert run["articles"]["new"] == 1
    assert run["revisit"]["requests"] == 2
    assert run["revisit"]["unchanged"] == 2  # compared: only page furniture changed
    revisited: list[str] = []
    for path in sorted((tmp_path / "output" / site / "warc").glob("*.warc.gz")):
        revisited += [
            rec.url
            for rec in iter_records(path)
            if isinstance(rec, ArchivedResponse) and rec.warc_fields.get(KIND_FIELD) == "revisit"
        ]
    assert len(revisited) == 4
    assert len(set(revisited)) == 4  # the most overdue first: the next run takes others
    assert set(revisited) <= set(known)
    assert events(tmp_path, site) == []


def test_a_change_of_the_extraction_alone_is_no_modification(
    fresh_replica: Any, tmp_path: Path
) -> None:
    """Every text read differently (here: cut at 300 characters by TEXT_MAX_CHARS), no
    page changed but one retitled: the archived previous pages, extracted the same way,
    give the same records, so the only event is the real edit."""
    replica = fresh_replica.url
    site = "dali"
    first = crawl(site, replica, tmp_path, **DUE_NOW)
    assert first.returncode == 0, first.stderr[-3000:]
    retitled = urls_of(replica, site)[0]
    control(replica, "edit", {"url": retitled, "title": "大理州召开会议（更新）"})
    time.sleep(1.1)
    second = crawl(site, replica, tmp_path, "-a", "revisit=1", **DUE_NOW, TEXT_MAX_CHARS="300")
    assert second.returncode == 0, second.stderr[-3000:]
    assert kinds(events(tmp_path, site)) == {retitled: "modified"}
    [event] = events(tmp_path, site)
    assert event["changed_fields"] == ["title"]
    revisit = summary(tmp_path, site)["revisit"]
    assert revisit["extraction_changed"] >= 3, revisit
