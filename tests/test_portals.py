"""Portal definitions: validation errors name the file, the key and what was expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawler.portals import PortalError, load_portal, load_portals, seeds_dir_from_settings

GOOD = """
name = "demo_portal"
display_name = "示例门户"
allowed_domains = ["www.example.gov.cn"]
start_urls = ["http://www.example.gov.cn/xwzx/index.html"]

[links]
article = ['/t\\d{8}_\\d+\\.html$']

[pagination]
style = "createPageHTML"
"""


def write(tmp_path: Path, text: str, name: str = "demo_portal") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_portal_loads(tmp_path: Path) -> None:
    portal = load_portal(write(tmp_path, GOOD))
    assert portal.name == "demo_portal"
    assert portal.pagination.style == "createPageHTML"
    assert portal.pagination.max_pages == 50
    assert portal.article_patterns[0].search("http://www.example.gov.cn/a/202007/t20200716_12.html")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("[links]", "colour = 'red'\n[links]"), "key 'colour': unknown key"),
        (
            GOOD.replace("'/t\\d{8}_\\d+\\.html$'", "'/t(\\d{8}_'"),
            "key 'links.article.0': not a valid regular expression",
        ),
        (GOOD.replace('style = "createPageHTML"', 'style = "infinite"'), "key 'pagination.style'"),
        (GOOD.replace('start_urls = ["http', 'start_urls = ["ftp'), "key 'start_urls.0'"),
        (GOOD.replace('display_name = "示例门户"\n', ""), "key 'display_name': required key"),
        (GOOD + "\nmax_pages = = 3\n", "not valid TOML"),
        (
            GOOD.replace("[links]", 'charset = "klingon"\n[links]'),
            "key 'charset': unknown",
        ),
    ],
)
def test_bad_portal_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PortalError) as info:
        load_portal(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_name_must_match_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, name="other")
    with pytest.raises(PortalError, match="must equal the file name 'other'"):
        load_portal(path)


def test_bundled_seed_portals_are_valid() -> None:
    portals = load_portals(seeds_dir_from_settings("seeds"))
    assert {"cri", "dali", "lnzf", "scfzw"} <= set(portals)
    assert len(portals) >= 5


def test_scrapy_list_and_bad_definition_exit_status(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    names = listed.stdout.split()
    assert "portal" in names
    assert {"cri", "dali", "lnzf", "scfzw"} <= set(names)

    write(tmp_path, GOOD.replace("[links]", "colour = 'red'\n[links]"))
    out = tmp_path / "out"
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "demo_portal",
            "-s",
            f"SEEDS_DIR={tmp_path}",
            "-s",
            f"OUTPUT_DIR={out}",
            "-s",
            f"STATE_DIR={out}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "demo_portal.toml: key 'colour': unknown key" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not out.exists()


def test_user_agent_names_the_contact_setting() -> None:
    from scrapy.settings import Settings

    from crawler.spiders.generic import GenericPortalSpider

    settings = Settings()
    settings.setmodule("crawler.settings")
    settings.set("CRAWLER_CONTACT", "mailto:data-team@example.org", priority="cmdline")
    GenericPortalSpider.update_settings(settings)
    assert settings["USER_AGENT"] == (
        "zhengfa-crawler/0.1 (research news collector; +mailto:data-team@example.org)"
    )
    default = Settings()
    default.setmodule("crawler.settings")
    GenericPortalSpider.update_settings(default)
    assert default["USER_AGENT"].endswith("+https://github.com/zhengfa-crawler/zhengfa-crawler)")
    # A User-Agent set outright is left alone.
    custom = Settings()
    custom.setmodule("crawler.settings")
    custom.set("USER_AGENT", "MyLab crawler (ops@example.org)", priority="cmdline")
    GenericPortalSpider.update_settings(custom)
    assert custom["USER_AGENT"] == "MyLab crawler (ops@example.org)"
