"""Portal definitions: one TOML file per portal in ``seeds/``.

A portal is data, not code.  Each ``seeds/<name>.toml`` is validated here when
loaded; a wrong key, a wrong type or a regex that does not compile raises
``PortalError`` naming the file, the key and what was expected.  Spider
classes for ``scrapy crawl <name>`` are derived from these files by
``crawler.spiders`` (adding a portal is adding a file).

Example (every key; only ``name``, ``display_name``, ``allowed_domains``,
``start_urls`` and ``links.article`` are required)::

    name = "scfzw"                       # the scrapy crawl name: [a-z][a-z0-9_]*
    display_name = "四川法制网"
    aliases = ["四川法制网站"]           # other names a reprint's 来源 gives the portal
    allowed_domains = ["www.scfzw.net"]
    start_urls = ["http://www.scfzw.net/shzl/index.html"]
    charset = "gb18030"                  # optional: overrides header and <meta>

    [links]
    article = ['/\\d{4}-\\d{2}/\\d{2}/\\d+\\.html$']   # regexes on absolute URLs
    deny = ['/special/']                 # never followed
    restrict_css = [".news-list"]        # where article links sit on list pages

    [pagination]
    style = "index_n"                    # next, index_n, createPageHTML, hanweb_jpage, none
    next_css = ["a.next"]                # style "next": the next-page link
    next_text = ["下一页", "下页"]         # style "next": link texts that mean next page
    max_pages = 50                       # list pages per start URL at most

    [selectors]                          # optional CSS overrides of the heuristics
    title = "h1.title"
    date = ".info .time"
    byline = ".info"
    body = "#zoom"

    [limits]
    max_articles = 0                     # 0 = no limit
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)


class PortalError(ValueError):
    """A portal definition that cannot be used; the message names file and key."""


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    return pattern


def _check_charset(name: str) -> str:
    import codecs

    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown charset {name!r}") from None
    return name


def _check_css(selector: str) -> str:
    from cssselect import SelectorError
    from parsel.csstranslator import css2xpath

    try:
        css2xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"not a valid CSS selector {selector!r} ({exc})") from None
    return selector


Regex = Annotated[str, AfterValidator(_check_regex)]
Css = Annotated[str, AfterValidator(_check_css)]
Charset = Annotated[str, AfterValidator(_check_charset)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Links(_Strict):
    article: list[Regex] = Field(min_length=1)
    deny: list[Regex] = Field(default_factory=list)
    restrict_css: list[Css] = Field(default_factory=list)


class Pagination(_Strict):
    style: Literal["next", "index_n", "createPageHTML", "hanweb_jpage", "none"] = "next"
    next_css: list[Css] = Field(default_factory=list)
    next_text: list[str] = Field(default_factory=lambda: ["下一页", "下页", "后页", "下一頁"])
    max_pages: int = Field(default=50, ge=1, le=10000)


class Selectors(_Strict):
    title: Css | None = None
    date: Css | None = None
    byline: Css | None = None
    body: Css | None = None


class Limits(_Strict):
    max_articles: int = Field(default=0, ge=0)


class Portal(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    display_name: str = Field(min_length=1)
    # other names a reprint's 来源 may give this portal (crawler.dedup.origin)
    aliases: list[str] = Field(default_factory=list)
    allowed_domains: list[str] = Field(min_length=1)
    start_urls: list[Annotated[str, Field(pattern=r"^https?://")]] = Field(min_length=1)
    charset: Charset | None = None
    links: Links
    pagination: Pagination = Field(default_factory=Pagination)
    selectors: Selectors = Field(default_factory=Selectors)
    limits: Limits = Field(default_factory=Limits)

    @model_validator(mode="after")
    def _start_urls_allowed(self) -> Self:
        # Scrapy's offsite rule: a host is allowed when it is a domain or below one.
        domains = [d.lower().lstrip(".") for d in self.allowed_domains]
        for url in self.start_urls:
            host = (urlsplit(url).hostname or "").lower()
            if not any(host == d or host.endswith("." + d) for d in domains):
                raise ValueError(
                    f"start URL {url} is outside allowed_domains ({', '.join(domains)}): "
                    f"Scrapy would filter it as offsite"
                )
        return self

    @property
    def article_patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.links.article]

    @property
    def deny_patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.links.deny]


def _format_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{path}: key '{key}': {msg}")
    return "\n".join(lines)


def load_portal(path: Path) -> Portal:
    """Load and validate one portal file; ``PortalError`` names file and key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PortalError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PortalError(f"{path}: cannot be read: {exc}") from None
    try:
        portal = Portal.model_validate(data)
    except ValidationError as exc:
        raise PortalError(_format_error(path, exc)) from None
    if portal.name != path.stem:
        raise PortalError(
            f"{path}: key 'name': {portal.name!r} must equal the file name {path.stem!r}"
        )
    return portal


def load_portals(seeds_dir: Path, errors: dict[str, str] | None = None) -> dict[str, Portal]:
    """All portals in ``seeds_dir`` by name.

    The first invalid file raises, unless ``errors`` is given: then each invalid
    file's message is put there under its file name (the portal's name) and the
    other portals are still loaded, so one bad file stops only its own crawl.
    """
    portals: dict[str, Portal] = {}
    if not seeds_dir.is_dir():
        raise PortalError(f"{seeds_dir}: the seeds directory does not exist")
    for path in sorted(seeds_dir.glob("*.toml")):
        try:
            portal = load_portal(path)
        except PortalError as exc:
            if errors is None:
                raise
            errors[path.stem] = str(exc)
            continue
        portals[portal.name] = portal
    return portals


def seeds_dir_from_settings(value: str | None) -> Path:
    """Resolve SEEDS_DIR: relative paths are taken from the project root."""
    path = Path(value or "seeds")
    if not path.is_absolute():
        path = Path(__file__).resolve().parent.parent / path
    return path
