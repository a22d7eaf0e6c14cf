"""Help texts are for users: plain text, an example, the arguments and exit statuses."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from crawlrun import ROOT

from crawler.__main__ import COMMANDS, main
from crawler.preflight import GenericArguments
from crawler.scrapy_commands.crawl import EXIT_STATUSES


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_every_command_help_is_plain_with_an_example(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of([*command, "--help"], capsys)
    assert "`" not in text
    assert re.search(r"^examples?:\n  python -m crawler ", text, re.MULTILINE), text
    # no module paths or code names of the implementation
    assert not re.search(r"\b(crawler|pipelines)\.[a-z_]+", text), text
    assert "def " not in text
    assert "PortalRunExtension" not in text


def test_scrapy_crawl_help_lists_arguments_and_exit_statuses() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "-h"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in GenericArguments.model_fields:
        assert f"-a {name}=" in done.stdout
    for code, _ in EXIT_STATUSES:
        assert re.search(rf"^  {code}\s", done.stdout, re.MULTILINE), code
    assert "143" in done.stdout
    assert "scrapy crawl scfzw -a since=2024-01-01" in done.stdout
