"""Mistakes caught before a crawl creates anything: arguments, folders, portal files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from crawlrun import ROOT, crawl_cmd

from crawler.portals import PortalError, load_portal, load_portals
from crawler.preflight import (
    GenericArguments,
    PortalArguments,
    PreflightError,
    check_arguments,
    check_writable,
)
from crawler.spiders.generic import site_name_from_title

PORTAL = """
name = "{name}"
display_name = "测试"
allowed_domains = ["www.example.gov.cn"]
start_urls = ["{start}"]
[links]
article = ['/\\\\d+\\\\.html$']
restrict_css = ["{css}"]
"""


def portal_file(folder: Path, name: str, start: str = "", css: str = ".list") -> Path:
    path = folder / f"{name}.toml"
    start = start or "http://www.example.gov.cn/index.html"
    path.write_text(PORTAL.format(name=name, start=start, css=css), encoding="utf-8")
    return path


def test_unknown_argument_is_refused_with_the_known_ones() -> None:
    with pytest.raises(PreflightError) as err:
        check_arguments("scfzw", PortalArguments, {"sinse": "2021-01-01"})
    assert str(err.value) == (
        "scrapy crawl scfzw: unknown argument -a sinse (known: full, max_pages, revisit, since)"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"since": "2021-1-1"}, "-a since='2021-1-1': expected a date as YYYY-MM-DD"),
        ({"since": "2021-13-01"}, "-a since='2021-13-01'"),
        ({"max_pages": "0"}, "-a max_pages='0'"),
        ({"full": "perhaps"}, "-a full='perhaps'"),
    ],
)
def test_bad_values_are_refused(args: dict[str, str], words: str) -> None:
    with pytest.raises(PreflightError, match="scrapy crawl scfzw: ") as err:
        check_arguments("scfzw", PortalArguments, args)
    assert words in str(err.value)


def test_good_arguments_pass() -> None:
    check_arguments("scfzw", PortalArguments, {"since": "2021-01-01", "full": "1"})
    check_arguments("portal", GenericArguments, {"url": "http://a.gov.cn/", "site_name": "甲"})
    with pytest.raises(PreflightError, match=r"-a url=… is required"):
        check_arguments("portal", GenericArguments, {})


def test_folders_that_cannot_be_written(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(PreflightError, match=r"afile is a file, not a folder"):
        check_writable("OUTPUT_DIR", afile)
    with pytest.raises(PreflightError, match=r"OUTPUT_DIR=.*/afile/out: .*afile is a file"):
        check_writable("OUTPUT_DIR", afile / "out")
    with pytest.raises(PreflightError, match=r"STATE_DIR=/proc/x/state: cannot write there"):
        check_writable("STATE_DIR", Path("/proc/x/state"))
    check_writable("OUTPUT_DIR", tmp_path / "new" / "out")
    assert not (tmp_path / "new").exists()  # checked, not created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_portal_css_that_does_not_compile(tmp_path: Path) -> None:
    with pytest.raises(PortalError, match=r"links.restrict_css.0': not a valid CSS selector"):
        load_portal(portal_file(tmp_path, "bad", css="div["))


def test_start_url_outside_allowed_domains(tmp_path: Path) -> None:
    with pytest.raises(PortalError, match=r"start URL http://www.other.gov.cn/ is outside"):
        load_portal(portal_file(tmp_path, "off", start="http://www.other.gov.cn/"))
    assert load_portal(portal_file(tmp_path, "sub", start="http://www.example.gov.cn/a/"))


def test_one_bad_file_leaves_the_others(tmp_path: Path) -> None:
    portal_file(tmp_path, "good")
    portal_file(tmp_path, "bad", css="div[")
    errors: dict[str, str] = {}
    assert list(load_portals(tmp_path, errors)) == ["good"]
    assert list(errors) == ["bad"]
    with pytest.raises(PortalError):
        load_portals(tmp_path)


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("社会治理 - 四川法制网", "四川法制网"),
        ("新闻中心_大理州人民政府", "大理州人民政府"),
        ("", ""),
    ],
)
def test_generic_site_name_from_the_title(title: str, name: str) -> None:
    assert site_name_from_title(title) == name


# --- real scrapy commands -------------------------------------------------------------


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["-a", "sinse=2021-01-01"],
            "unknown argument -a sinse (known: full, max_pages, revisit, since)",
        ),
        (["-s", "OUTPUT_DIR={work}/afile"], "OUTPUT_DIR={work}/afile is a file, not a folder"),
        (["-s", "STATE_DIR={work}/afile/state"], "{work}/afile is a file, not a folder"),
        (["-s", "ARCHIVE_DIR=/proc/x/warc"], "ARCHIVE_DIR=/proc/x/warc: cannot write there"),
    ],
    ids=["misspelled-argument", "output-is-a-file", "state-under-a-file", "archive-not-writable"],
)
def test_crawl_stops_before_writing_anything(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    (tmp_path / "afile").write_text("x")
    extra = [e.format(work=tmp_path) for e in extra]
    cmd = crawl_cmd("scfzw", "http://127.0.0.1:9", tmp_path)
    done = run(cmd + extra)  # later -s settings win
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert message.format(work=tmp_path) in errors[0]
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no lock, no state, no output


@pytest.mark.e2e
def test_a_bad_portal_file_stops_only_its_own_crawl(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    portal_file(seeds, "broken", css="div[")
    listed = run([sys.executable, "-m", "scrapy", "list", "-s", f"SEEDS_DIR={seeds}"])
    assert listed.returncode == 2
    portals = sorted([p.stem for p in (ROOT / "seeds").glob("*.toml")] + ["portal"])
    assert listed.stdout.split() == portals
    assert "error: portal 'broken' not available:" in listed.stderr
    assert "broken.toml: key 'links.restrict_css.0': not a valid CSS selector" in listed.stderr
    settings = {"SEEDS_DIR": str(seeds), "LOG_LEVEL": "WARNING"}
    bad = run(crawl_cmd("broken", "http://127.0.0.1:9", tmp_path, settings=settings))
    assert bad.returncode == 2
    assert "not a valid CSS selector" in bad.stderr
    assert not (tmp_path / "output").exists()
    assert not (tmp_path / "state").exists()
    # another portal still runs (here to a closed port: it gets as far as the network)
    good = run(crawl_cmd("scfzw", "http://127.0.0.1:9", tmp_path, settings=settings))
    assert good.returncode == 69, good.stderr[-2000:]
