"""Checks made before a crawl creates anything: spider arguments and writable folders.

``scrapy crawl`` (``crawler.scrapy_commands.crawl``) runs them after the
spider class is known and before the crawl starts, so a mistake gives one
line and exit status 2 with no lock, no state and no output written.

- Spider arguments (``-a NAME=VALUE``) are validated by a pydantic model per
  spider (``PortalArguments``, ``GenericArguments``; the spider's
  ``arguments`` attribute): an unknown name is refused with the list of known
  ones, a bad value with what was expected.
- ``OUTPUT_DIR``, ``STATE_DIR`` and the archive folder (when
  ``ARCHIVE_ENABLED``) must be folders this process can write, or be
  creatable: the nearest existing part of each path must be a folder that
  accepts a file (tried with an unnamed temporary file, which leaves nothing).
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class PreflightError(ValueError):
    """A mistake found before the crawl: one line for the user."""


class PortalArguments(BaseModel):
    """``-a`` arguments of every portal spider."""

    model_config = ConfigDict(extra="forbid")

    since: date | None = Field(
        default=None, description="keep only articles published on or after this day (YYYY-MM-DD)"
    )
    full: bool = Field(
        default=False, description="1: recrawl every list page (the output is still deduplicated)"
    )
    max_pages: int | None = Field(
        default=None, ge=1, description="list pages per start URL at most (default: the portal's)"
    )
    revisit: bool = Field(
        default=False, description="1: also revisit known articles that are due (change events)"
    )

    @field_validator("since", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                if len(value) != 10:
                    raise ValueError(value)
                return datetime.strptime(value, "%Y-%m-%d").date()
            except ValueError:
                raise ValueError("expected a date as YYYY-MM-DD") from None
        return value


class GenericArguments(PortalArguments):
    """``-a`` arguments of the generic ``portal`` spider."""

    url: str = Field(description="start URL(s) of a portal with no file, comma-separated")
    site_name: str | None = Field(
        default=None, description="the portal's name in the records (default: the page title)"
    )


def check_arguments(spider_name: str, model: type[BaseModel], spargs: dict[str, Any]) -> None:
    """Raise ``PreflightError`` for an unknown ``-a`` name or a bad value."""
    known = ", ".join(sorted(model.model_fields))
    try:
        model.model_validate(spargs)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown argument -a {name} (known: {known})")
            elif err["type"] == "missing":
                problems.append(f"-a {name}=… is required")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"-a {name}={spargs.get(name)!r}: {msg}")
        raise PreflightError(f"scrapy crawl {spider_name}: {'; '.join(problems)}") from None


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path("/")


def check_writable(setting: str, folder: Path) -> None:
    """Raise ``PreflightError`` unless ``folder`` is, or can become, a writable folder."""
    folder = folder.absolute()
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        what = "is a file" if existing.is_file() else "is not a folder"
        where = "" if existing == folder else f": {existing}"
        raise PreflightError(f"{setting}={folder}{where} {what}, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = "" if existing == folder else f" ({existing} exists)"
        raise PreflightError(f"{setting}={folder}: cannot write there{where}: {reason}") from None


def check_folders(settings: Any, site: str) -> None:
    """Check ``OUTPUT_DIR``, ``STATE_DIR`` and the archive folder of ``site``."""
    from crawler.archive import archive_dir

    check_writable("OUTPUT_DIR", Path(str(settings.get("OUTPUT_DIR") or "output")))
    check_writable("STATE_DIR", Path(str(settings.get("STATE_DIR") or "state")))
    if settings.getbool("ARCHIVE_ENABLED"):
        name = "ARCHIVE_DIR" if settings.get("ARCHIVE_DIR") else "the archive folder"
        check_writable(name, archive_dir(settings, site))
