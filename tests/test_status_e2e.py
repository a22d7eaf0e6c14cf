"""A month of cron runs on the replica with a moving clock, then ``status`` read as a user would.

One run every three days for 30 days (``CRAWLER_NOW`` moves the clock the run
summaries are written with); the portal publishes an article before each of
the first five runs and none after, so by the end its yield has been zero for
five runs: the template-change alarm.  The HTML page is rendered by a real
headless Chromium.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from crawlrun import ROOT, Replica, crawl_cmd
from test_incremental_e2e import control

pytestmark = pytest.mark.e2e

SITE = "scfzw"
START = datetime(2026, 3, 1, 6, 17, tzinfo=UTC)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Common characters: each article draws its own sequence, so no two are near-duplicates.
COMMON = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
    "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使"
    "点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明"
)


def article_text(n: int) -> str:
    rng = random.Random(n)
    sentences = ["".join(rng.choice(COMMON) for _ in range(24)) + "。" for _ in range(12)]
    return "\n\n".join("".join(sentences[i : i + 3]) for i in range(0, 12, 3))


def stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def status(work: Path, now: datetime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRAWLER_NOW": stamp(now)}
    cmd = [sys.executable, "-m", "crawler", "status", str(work / "output"), *args]
    return subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime, int]:
    work = tmp_path_factory.mktemp("month")
    replica = Replica()
    published = 0
    try:
        for n in range(10):
            day = START + timedelta(days=3 * n)
            if 1 <= n <= 5:
                text = article_text(n)
                control(
                    replica.url,
                    "add",
                    {
                        "site": SITE,
                        "article": {
                            "title": f"全省政法工作第{n}次推进会召开（{day:%m月%d日}）",
                            "body": text,
                        },
                    },
                )
                published += 1
            env = {**os.environ, "CRAWLER_NOW": stamp(day), "PYTHONUNBUFFERED": "1"}
            done = subprocess.run(
                crawl_cmd(SITE, replica.url, work, settings={"PAGE_WORKERS": "0"}),
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-3000:]
    finally:
        replica.stop()
    return work, START + timedelta(days=27, hours=1), published


def test_status_after_a_month_of_cron_runs(month: tuple[Path, datetime, int]) -> None:
    work, now, published = month
    runs = sorted((work / "output" / SITE / "runs").glob("*.json"))
    assert len(runs) == 10
    first = json.loads(runs[0].read_text("utf-8"))
    assert first["started"] == stamp(START).replace(".000", "")
    done = status(work, now, "--json")
    assert done.returncode == 1, done.stderr  # an alarm is raised
    (row,) = json.loads(done.stdout)
    assert row["site"] == SITE
    assert row["last_run"] == stamp(START + timedelta(days=27))
    assert row["outcome"] == "ok"
    assert row["new_last_run"] == 0
    assert row["new_7d"] == 0
    initial = first["articles"]["new"]
    assert initial >= 5
    assert row["new_30d"] == initial + published
    assert row["days_since_new"] == pytest.approx(12 + 1 / 24, abs=0.05)  # day 15 06:17
    assert row["alarm"].startswith("yield fell to zero")
    assert row["error_share"] == 0.0
    assert sum(row["daily_new"]) == row["new_30d"] - 0  # every run inside the 30 days
    table = status(work, now)
    header, line = table.stdout.splitlines()
    assert header.startswith("portal")
    assert line.split()[:3] == [SITE, "2026-03-28", "06:17:00"]
    assert "yield fell to zero" in line


def test_status_page_in_a_real_browser(month: tuple[Path, datetime, int], tmp_path: Path) -> None:
    work, now, _ = month
    page = tmp_path / "status.html"
    assert status(work, now, "--html", str(page)).returncode == 1
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package chromium, in TEST_DEBS)")
    base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert f'<tr id="{SITE}" class="alarm">' in dom.stdout
    assert dom.stdout.count("<rect") == 30
    assert "yield fell to zero" in dom.stdout
    shot = tmp_path / "status.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1400,300", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.stat().st_size > 5000  # a rendered page, not a blank one
