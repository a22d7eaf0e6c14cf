"""Incremental cron crawling end to end: real ``scrapy crawl`` processes against the replica.

Each test has a replica of its own (``fresh_replica``) when it adds pages, and
its own OUTPUT_DIR/STATE_DIR.  Every subprocess has a timeout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crawlrun
import pytest
from scrapy.settings import Settings

from crawler.dedup.state import open_index
from pipelines.dedup import params_from_settings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SITE = "scfzw"
# crawlrun.FAST, plus page work in the crawl process: these runs are short and timed.
FAST = {**crawlrun.FAST, "PAGE_WORKERS": "0"}


@dataclass
class Run:
    returncode: int
    stderr: str
    work: Path

    def records(self, name: str = "articles", site: str = SITE) -> list[dict[str, Any]]:
        return read_jsonl(self.work / "output" / site / f"{name}.jsonl")

    def summary(self, site: str = SITE) -> dict[str, Any]:
        runs = sorted((self.work / "output" / site / "runs").glob("*.json"))
        assert runs, "no run summary written"
        data: dict[str, Any] = json.loads(runs[-1].read_text("utf-8"))
        return data


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"{path} ends with a partial line"
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def crawl_cmd(site: str, replica: str, work: Path, *args: str, **settings: str) -> list[str]:
    return crawlrun.crawl_cmd(site, replica, work, *args, settings={**FAST, **settings})


def crawl(
    site: str, replica: str, work: Path, *args: str, timeout: float = 120, **settings: str
) -> Run:
    done = subprocess.run(
        crawl_cmd(site, replica, work, *args, **settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stderr, work)


def control(replica: str, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{replica}/_replica/{action}",
        data=json.dumps(payload or {}).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def manifest(replica: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{replica}/_replica/manifest", timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def seen_keys(work: Path, site: str = SITE) -> list[str]:
    return (work / "state" / site / "seen").read_text("utf-8").split()


def record_keys(run: Run, site: str = SITE) -> list[str]:
    from crawler.ids import url_key

    return [url_key(r["url"]) for r in run.records(site=site) + run.records("duplicates", site)]


# --- back to back -------------------------------------------------------------------


def test_second_run_fetches_only_list_pages_and_writes_nothing(
    replica_url: str, tmp_path: Path
) -> None:
    first = crawl(SITE, replica_url, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    expected = [a["url"] for a in manifest(replica_url)["portals"][SITE]["articles"]]
    records = first.records()
    assert sorted(r["url"] for r in records) == sorted(expected)
    s1 = first.summary()
    assert s1["articles"]["new"] == len(expected)
    assert s1["pages"]["article"] == len(expected)
    assert s1["exit_status"] == 0
    time.sleep(1.1)  # run summaries are named by the second

    second = crawl(SITE, replica_url, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.records() == records  # byte-for-byte the same records
    s2 = second.summary()
    assert s2["pages"] == {"list": 1, "article": 0}
    assert s2["articles"]["new"] == 0
    assert s2["articles"]["seen"] >= 1
    assert s2["articles"]["duplicate"]["total"] == 0
    assert s2["errors"]["total"] == 0
    (mark,) = s2["watermark"]  # a list: one object per start URL
    assert mark["start_url"] == "http://www.scfzw.net/shzl/index.html"
    assert mark["list_pages"] == 1
    assert mark["stop"] == "no new articles"
    assert mark["stopped_at"] == "http://www.scfzw.net/shzl/index_2.html"
    assert s2["exit_status"] == 0
    assert f"{SITE}: 1 list page, 0 new articles, {s2['articles']['seen']} seen" in second.stderr
    assert len(list((tmp_path / "output" / SITE / "runs").glob("*.json"))) == 2
    assert sorted(seen_keys(tmp_path)) == sorted(record_keys(second))


def test_new_articles_are_the_only_ones_fetched(fresh_replica: Any, tmp_path: Path) -> None:
    url = fresh_replica.url
    first = crawl(SITE, url, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    before = first.records()
    added = [control(url, "add", {"site": SITE})["url"] for _ in range(2)]
    time.sleep(1.1)
    second = crawl(SITE, url, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    after = second.records()
    assert after[: len(before)] == before  # appended, nothing rewritten
    assert sorted(r["url"] for r in after[len(before) :]) == sorted(added)
    s2 = second.summary()
    assert s2["pages"]["article"] == 2
    assert s2["articles"]["new"] == 2
    # the two new articles pushed two old ones to page 2, which is read and has none new
    assert s2["pages"]["list"] == 2
    assert sorted(seen_keys(tmp_path)) == sorted(record_keys(second))


def test_a_reprint_added_between_runs_is_a_duplicate(fresh_replica: Any, tmp_path: Path) -> None:
    url = fresh_replica.url
    first = crawl(SITE, url, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    original = first.records()[0]
    reprint = control(url, "add", {"site": SITE, "reprint_of": original["url"]})["url"]
    time.sleep(1.1)
    second = crawl(SITE, url, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.records() == first.records()
    dups = second.records("duplicates")
    assert [d["url"] for d in dups] == [reprint]
    assert dups[0]["duplicate_of"] == original["id"]
    s2 = second.summary()
    assert s2["articles"]["new"] == 0
    assert s2["articles"]["duplicate"]["total"] == 1
    assert s2["pages"]["article"] == 1
    assert f"{reprint.split('://', 1)[1]}" in seen_keys(tmp_path)


def test_full_recrawl_fetches_everything_and_writes_nothing_twice(
    replica_url: str, tmp_path: Path
) -> None:
    first = crawl(SITE, replica_url, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    time.sleep(1.1)
    full = crawl(SITE, replica_url, tmp_path, "-a", "full=1")
    assert full.returncode == 0, full.stderr[-3000:]
    s = full.summary()
    assert s["full"] is True
    assert s["pages"]["article"] == len(first.records())
    assert s["pages"]["list"] == first.summary()["pages"]["list"]
    assert full.records() == first.records()
    assert full.records("duplicates") == []


def test_since_keeps_newer_articles_and_stops_at_an_older_list_page(
    replica_url: str, tmp_path: Path
) -> None:
    run = crawl(SITE, replica_url, tmp_path, "-a", "since=2021-08-31")
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(r["published_at"][:10] for r in run.records()) == ["2021-09-01", "2021-09-02"]
    s = run.summary()
    assert s["since"] == "2021-08-31"
    # page 2 lists 08-30 and 08-27 (dates in the URLs): older, so page 3 is never read
    assert s["pages"]["list"] == 2
    assert s["articles"]["dropped"]["before_since"] == 2
    (mark,) = s["watermark"]  # a list: one object per start URL
    assert mark["start_url"] == "http://www.scfzw.net/shzl/index.html"
    assert mark["stopped_at"] == "http://www.scfzw.net/shzl/index_3.html"
    assert "since" in mark["stop"]
    assert s["exit_status"] == 0


# --- exit status ----------------------------------------------------------------------


def test_exit_status_is_1_when_the_list_template_changed(replica_url: str, tmp_path: Path) -> None:
    first = crawl(SITE, replica_url, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    # the portal moved to another CMS: its article links no longer look like the definition's
    # (simulated by a definition whose article pattern the pages no longer match)
    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    conf = seeds / f"{SITE}.toml"
    text = conf.read_text("utf-8")
    old_pattern = r"shzl/\d{4}-\d{2}/\d{2}/\d+\.html"
    assert old_pattern in text
    conf.write_text(text.replace(old_pattern, r"shzl/content/\d+\.shtml"), "utf-8")
    time.sleep(1.1)
    broken = crawl(SITE, replica_url, tmp_path, SEEDS_DIR=str(seeds))
    assert broken.returncode == 1, broken.stderr[-3000:]
    s = broken.summary()
    assert s["exit_status"] == 1
    assert "no article links found" in s["problems"][0]
    assert "earlier runs" in s["problems"][0]
    assert "[exit 1: no article links found" in broken.stderr
    assert broken.records() == first.records()


def test_exit_status_is_69_when_nothing_answers(tmp_path: Path) -> None:
    # nothing listens on the replica port: every fetch fails, the portal is unreachable
    dead = crawl(
        SITE, "http://127.0.0.1:9", tmp_path, ROBOTSTXT_OBEY="0", RETRY_TIMES="0", timeout=60
    )
    assert dead.returncode == 69, dead.stderr[-3000:]
    s = dead.summary()
    assert s["errors"]["download"]
    assert s["errors"]["rate"] == 1.0
    assert s["problems"] == ["portal unreachable (connection refused to www.scfzw.net, 1 try)"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nosuch",), "error: no portal or spider named 'nosuch' (known: "),
        (
            (SITE, "-a", "since=2021-13-01"),
            "error: scrapy crawl scfzw: -a since='2021-13-01': expected a date",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_write_nothing(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    site, *rest = args
    run = crawl(site, "http://127.0.0.1:9", tmp_path, *rest, timeout=60)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "output").exists()
    assert not (tmp_path / "state").exists()


# --- the lock -------------------------------------------------------------------------


def test_two_runs_of_one_portal_one_refuses(replica_url: str, tmp_path: Path) -> None:
    slow_log = (tmp_path / "slow.log").open("w")
    slow = subprocess.Popen(
        crawl_cmd(SITE, replica_url, tmp_path, DOWNLOAD_DELAY="3", DOWNLOAD_DELAY_JITTER="0"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=slow_log,
    )
    try:
        lock = tmp_path / "state" / f"{SITE}.lock"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if lock.exists() and lock.read_text().strip() == str(slow.pid):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the first run never took the lock")
        t0 = time.monotonic()
        second = crawl(SITE, replica_url, tmp_path, timeout=60)
        refused_in = time.monotonic() - t0
        # another portal starts while the first run goes on, sharing the dedup index
        assert slow.poll() is None, "the first run should still be running"
        other = crawl("dali", replica_url, tmp_path, timeout=120)
    finally:
        slow.wait(timeout=120)
        slow_log.close()
    assert second.returncode == 75
    assert str(lock) in second.stderr
    assert f"process {slow.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    assert refused_in < 30  # start-up and refusal, not a wait for the lock (the run takes longer)
    assert slow.returncode == 0, (tmp_path / "slow.log").read_text()[-3000:]
    assert other.returncode == 0, other.stderr[-3000:]
    # the refused run wrote nothing: one summary only, from the first run
    assert len(list((tmp_path / "output" / SITE / "runs").glob("*.json"))) == 1
    first = Run(0, "", tmp_path)
    assert len(first.records()) == first.summary()["articles"]["new"]
    # the shared dedup index names every record both runs kept
    kept = [
        json.loads(line)["url"]
        for site in (SITE, "dali")
        for line in (tmp_path / "output" / site / "articles.jsonl").read_text("utf-8").splitlines()
    ]
    project = Settings()
    project.setmodule("crawler.settings")
    index = open_index(tmp_path / "state", tmp_path / "output", params_from_settings(project))
    assert len(index) == len(kept)


# --- the cron recipe -------------------------------------------------------------------

CRON_LINE = (
    "17 */4 * * * cd /path && mkdir -p output/logs && "
    ".venv/bin/scrapy crawl scfzw >> output/logs/scfzw.log 2>&1 "
    '|| echo "scfzw: crawl failed with status $? (see /path/output/logs/scfzw.log)"'
)


def test_cron_recipe_as_written(replica_url: str, tmp_path: Path) -> None:
    """The README's crontab line, run by ``sh -c`` in a deployment-like directory."""
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    for name in ("scrapy.cfg", "crawler", "pipelines", "seeds", ".venv"):
        (deploy / name).symlink_to(ROOT / name)
    command = CRON_LINE.split(" ", 5)[5]  # the five time fields are cron's business
    fast = " ".join(f"-s {k}={v}" for k, v in {**FAST, "REPLICA_URL": replica_url}.items())
    command = command.replace("/path", str(deploy)).replace(
        "scrapy crawl scfzw", f"scrapy crawl scfzw {fast}"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh"}  # cron's bare env
    for _ in range(2):
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert done.returncode == 0
        assert done.stdout == ""  # cron mails only when something is printed
        assert done.stderr == ""
        time.sleep(1.1)
    log = (deploy / "output" / "logs" / "scfzw.log").read_text("utf-8")
    assert log.count("scfzw: ") >= 2
    assert "scfzw: 1 list page, 0 new articles" in log
    assert read_jsonl(deploy / "output" / "scfzw" / "articles.jsonl")
    assert (deploy / "state" / "scfzw" / "seen").exists()

    # a failing run (here: the portal unreachable) makes cron print (and so mail) one line
    failing = command.replace(f"REPLICA_URL={replica_url}", "REPLICA_URL=http://127.0.0.1:9")
    failing = failing.replace("crawl scfzw ", "crawl scfzw -s ROBOTSTXT_OBEY=0 -s RETRY_TIMES=0 ")
    done = subprocess.run(
        ["/bin/sh", "-c", failing], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.stdout.strip() == (
        f"scfzw: crawl failed with status 69 (see {deploy}/output/logs/scfzw.log)"
    )
    assert (deploy / "output" / "logs" / "scfzw.log").stat().st_size > len(log.encode())
    assert "scfzw: portal unreachable (connection refused to www.scfzw.net, 1 try)" in (
        deploy / "output" / "logs" / "scfzw.log"
    ).read_text("utf-8")
