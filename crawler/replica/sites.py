"""The replicated portals: article data + templates -> pages in memory.

Everything served for a portal is built from ``crawler/replica/sites/<name>/``:

- ``site.toml``: host, scheme, list column, pagination style, page size,
  encoding and Content-Type header, robots.txt rules, date format, the form of
  new article paths.
- ``articles/<key>.toml``: one article each (fields below).
- ``article.html``, ``list.html``, ``404.html``: ``string.Template`` pages;
  ``_<part>.html`` files are shared parts, available as ``${part}``.

Article fields: ``path``, ``title`` (the headline as the record should carry
it, simplified), ``date`` (as the page shows it, "" for none),
``published_at`` (ISO 8601 or ""), ``source``, ``authors``, ``editors``,
``responsible_editors``, ``author_line`` (what the page shows after 作者),
``original_title``, ``body`` (one paragraph per line), ``seed`` (the seed
number), ``reprint_of`` (``site/key`` of the original), ``body_from``
(``site/key`` whose paragraphs are reused), ``drop_paragraphs`` (indices
dropped from them), ``event`` (articles about one event share it),
``quality_flags``, ``verbatim`` (the body is the page's text as is: no
script conversion), ``expect_text_start`` / ``expect_text_end``.

``Replica`` holds the rendered pages of every portal, the manifest (the
ground truth for crawl and dedup tests) and the operations that grow a
portal at run time (``add_article``, ``add_reprint``).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import itertools
import json
import random
import re
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from crawler.replica import converter
from crawler.replica.styles import STYLES, Style

SITES_DIR = Path(__file__).resolve().parent / "sites"
MANIFEST_PATH = SITES_DIR / "manifest.json"
PORTALS = ("cri", "dali", "docin", "lnzf", "scfzw")
CHINA = timezone(timedelta(hours=8))


class ReplicaError(ValueError):
    """A bad replica data file or a bad control request."""


@dataclass(frozen=True)
class Resource:
    """One response, prebuilt: status, headers and body (and its gzip form)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    gzipped: bytes | None = None


@dataclass
class Article:
    """One replicated article: what the page shows and what the record should hold."""

    site: str
    key: str
    path: str
    title: str
    date: str
    published_at: str | None
    source: str | None
    authors: list[str]
    editors: list[str]
    responsible_editors: list[str]
    author_line: str | None
    original_title: str | None
    paragraphs: list[str]
    seed: str | None = None
    reprint_of: str | None = None
    event: str | None = None
    quality_flags: list[str] = field(default_factory=list)
    verbatim: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    added: bool = False

    @property
    def ref(self) -> str:
        return f"{self.site}/{self.key}"


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _str_list(data: dict[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReplicaError(f"{where}: {key!r} must be a list of strings")
    return list(value)


def _paragraphs(body: str | list[str]) -> list[str]:
    lines = body if isinstance(body, list) else body.split("\n")
    return [line.strip() for line in lines if line.strip()]


def article_from_data(site: str, key: str, data: dict[str, Any], where: str) -> Article:
    """Build an ``Article`` from TOML/JSON data (``body_from`` resolved later)."""
    for required in ("path", "title"):
        if not isinstance(data.get(required), str) or not data[required]:
            raise ReplicaError(f"{where}: {required!r} is required")
    if "body" not in data and "body_from" not in data:
        raise ReplicaError(f"{where}: 'body' or 'body_from' is required")
    extra_keys = (
        "page_title",
        "source_line",
        "uploader",
        "pages",
        "expect_text_start",
        "expect_text_end",
        "body_from",
        "drop_paragraphs",
    )
    return Article(
        site=site,
        key=key,
        path=data["path"],
        title=data["title"],
        date=data.get("date", ""),
        published_at=data.get("published_at") or None,
        source=data.get("source") or None,
        authors=_str_list(data, "authors", where),
        editors=_str_list(data, "editors", where),
        responsible_editors=_str_list(data, "responsible_editors", where),
        author_line=data.get("author_line"),
        original_title=data.get("original_title") or None,
        paragraphs=_paragraphs(data.get("body", "")),
        seed=data.get("seed"),
        reprint_of=data.get("reprint_of"),
        event=data.get("event"),
        quality_flags=_str_list(data, "quality_flags", where),
        verbatim=bool(data.get("verbatim", False)),
        extra={k: data[k] for k in extra_keys if k in data},
    )


@dataclass
class SiteConfig:
    name: str
    display_name: str
    scheme: str
    host: str
    list_dir: str
    pagination: str
    page_size: int
    encoding: str
    content_type: str
    robots_disallow: list[str]
    converter: str | None
    directory: Path

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    def list_path(self, page: int) -> str:
        """Path of list page ``page`` (1-based) in this portal's pagination style."""
        if page == 1:
            return self.list_dir + "index.html"
        if self.pagination == "next":
            return f"{self.list_dir}list_{page}.html"
        if self.pagination == "createPageHTML":
            return f"{self.list_dir}index_{page - 1}.html"
        return f"{self.list_dir}index_{page}.html"


def load_site_config(directory: Path) -> SiteConfig:
    data = tomllib.loads((directory / "site.toml").read_text(encoding="utf-8"))
    return SiteConfig(
        name=data["name"],
        display_name=data["display_name"],
        scheme=data["scheme"],
        host=data["host"],
        list_dir=data["list_dir"],
        pagination=data["pagination"],
        page_size=int(data["page_size"]),
        encoding=data["encoding"],
        content_type=data["content_type"],
        robots_disallow=list(data.get("robots_disallow", [])),
        converter=data.get("converter"),
        directory=directory,
    )


class Site:
    """One portal: its configuration, templates, articles and rendered pages."""

    def __init__(self, config: SiteConfig, articles: list[Article]) -> None:
        self.config = config
        self.style: Style = STYLES[config.name](self)
        self.articles = articles
        self.templates = self._load_templates()

    # -- text in the portal's script ------------------------------------------
    def script(self, text: str) -> str:
        """Text as this portal shows it (through the converter for lnzf)."""
        if self.config.converter == "traditional":
            return converter.convert(text)
        return text

    def _load_templates(self) -> dict[str, Template]:
        parts: dict[str, str] = {}
        for path in sorted(self.config.directory.glob("_*.html")):
            parts[path.stem[1:]] = self.script(path.read_text(encoding="utf-8"))
        templates: dict[str, Template] = {}
        for name in ("article", "list", "404"):
            text = self.script((self.config.directory / f"{name}.html").read_text(encoding="utf-8"))
            # Shared parts are substituted once; the rest stays a template.
            text = Template(text).safe_substitute(parts)
            templates[name] = Template(text)
        return templates

    # -- URLs -----------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.config.origin + path

    def ordered(self) -> list[Article]:
        """Articles as the list pages show them: newest first (removed ones left out)."""
        shown = [a for a in self.articles if not a.extra.get("removed")]
        return sorted(shown, key=lambda a: (a.published_at or "", a.path), reverse=True)

    def page_count(self) -> int:
        return max(1, -(-len(self.ordered()) // self.config.page_size))

    def list_urls(self) -> list[str]:
        return [self.url(self.config.list_path(n)) for n in range(1, self.page_count() + 1)]

    # -- rendering ------------------------------------------------------------
    def _resource(
        self, text: str, status: int = 200, extra: tuple[tuple[str, str], ...] = ()
    ) -> Resource:
        body = text.encode(self.config.encoding)
        headers = (("Content-Type", self.config.content_type), *extra)
        return Resource(status, body, headers, gzip.compress(body, compresslevel=6, mtime=0))

    def _article_page(self, article: Article, ordered: list[Article]) -> Resource:
        """An article's page with its validators (ETag of the bytes, Last-Modified)."""
        outage = article.extra.get("outage")
        if outage == "503":
            headers = (("Content-Type", "text/html"), ("Retry-After", "0"))
            return Resource(503, b"<html><body>503 Service Unavailable</body></html>", headers)
        if outage == "challenge":
            return self._resource(CHALLENGE_PAGE)
        related = [a for a in ordered if a is not article][:4]
        text = self.templates["article"].substitute(
            self.style.article_fields(article),
            related="\n".join(self.style.related_item(a) for a in related),
            url=self.url(article.path),
        )
        text = text.replace("</body>", _furniture(article) + "</body>", 1)
        body = text.encode(self.config.encoding)
        changed = (
            article.extra.get("modified_at") or article.published_at or "2020-01-01T00:00:00+08:00"
        )
        validators = (
            ("ETag", '"' + hashlib.sha1(body).hexdigest()[:16] + '"'),
            ("Last-Modified", _http_date(changed)),
        )
        return self._resource(text, extra=validators)

    def _removed_page(self, article: Article) -> Resource | None:
        """What the path of a removed article answers (None: the portal's 404 page)."""
        how = article.extra.get("removed")
        if how == "410":
            return self._resource(self.templates["404"].substitute(), status=410)
        if how == "soft404":
            return self._resource(self.templates["404"].substitute())
        if how in ("emptied", "notice"):
            shell = dataclasses.replace(article, paragraphs=[], extra={})
            if how == "notice":
                shell.paragraphs = ["该信息已删除。"]
            text = self.templates["article"].substitute(
                self.style.article_fields(shell), related="", url=self.url(article.path)
            )
            return self._resource(text)
        if how == "redirect_home":
            headers = (("Location", self.url("/")), ("Content-Type", "text/html"))
            return Resource(302, b"<html><body>moved</body></html>", headers)
        return None

    def render(self) -> dict[str, Resource]:
        """Every page of the portal by path (robots.txt, lists, articles, 404)."""
        pages: dict[str, Resource] = {}
        ordered = self.ordered()
        size = self.config.page_size
        total = self.page_count()
        for n in range(1, total + 1):
            chunk = ordered[(n - 1) * size : n * size]
            text = self.templates["list"].substitute(
                items="\n".join(self.style.list_item(a) for a in chunk),
                pager=self.style.pager(n, total),
                sidebar="\n".join(self.style.sidebar_item(a) for a in self.sidebar(ordered)),
                page_suffix="" if n == 1 else f"_第{n}页",
            )
            pages[self.config.list_path(n)] = self._resource(text)
        pages[self.config.list_dir] = pages[self.config.list_path(1)]
        for article in ordered:
            pages[article.path] = self._article_page(article, ordered)
        for article in self.articles:
            if article.extra.get("removed"):
                page = self._removed_page(article)
                if page is not None:
                    pages[article.path] = page
        pages["/robots.txt"] = Resource(
            200,
            self.robots_txt().encode("ascii"),
            (("Content-Type", "text/plain"),),
        )
        pages[":404"] = self._resource(self.templates["404"].substitute(), status=404)
        return pages

    @staticmethod
    def sidebar(ordered: list[Article]) -> list[Article]:
        """ "Most read" box on list pages: the three oldest articles."""
        return list(reversed(ordered[-3:]))

    def robots_txt(self) -> str:
        lines = ["User-agent: *"]
        lines += [f"Disallow: {p}" for p in self.config.robots_disallow]
        lines.append("")
        return "\n".join(lines)

    # -- ground truth ---------------------------------------------------------
    def expected_text(self, article: Article) -> str | None:
        """The record's text, NFKC; None when only its start and end are known.

        A reporter's credit closing the last paragraph (``…设分会场。(辽宁日报记者
        杨忠厚)``) is byline, not text: the record's text ends before it.
        """
        if article.verbatim:
            return None
        paragraphs = [_nfkc(p) for p in article.paragraphs]
        if paragraphs:
            paragraphs[-1] = _CLOSING_CREDIT.sub("", paragraphs[-1])
        return "\n".join(paragraphs)


# A challenge page as Chinese CDNs and WAFs send it (status 200, a JavaScript check).
CHALLENGE_PAGE = (
    "<html><head><title>安全验证</title></head><body><p>请稍候，正在进行安全验证……</p>"
    "<script>document.cookie=('__jsl_clearance=1700000000.1|0|abc');"
    "location.href=location.pathname+location.search</script></body></html>"
)


def _http_date(iso: str) -> str:
    when = datetime.fromisoformat(iso)
    when = when if when.tzinfo else when.replace(tzinfo=CHINA)
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _furniture(article: Article) -> str:
    """The advert box and view counter an edit can set (page furniture, not the article)."""
    parts = []
    if article.extra.get("ad"):
        ad = escape(str(article.extra["ad"]))
        parts.append(f'<div class="ad-box"><a href="/ad/click.html" target="_blank">{ad}</a></div>')
    if article.extra.get("views") is not None:
        parts.append(f'<div class="counter">阅读次数：{int(article.extra["views"])}</div>')
    return "\n".join(parts) + ("\n" if parts else "")


# "(国际在线记者 孙博)" after the last sentence (NFKC brackets).
_CLOSING_CREDIT = re.compile(r"(?<=[。!?”])\([^()]{0,12}记者[^()]{1,20}\)$")


def _load_articles(site: str, directory: Path) -> list[Article]:
    articles = []
    for path in sorted((directory / "articles").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        articles.append(article_from_data(site, path.stem, data, str(path)))
    return articles


def _resolve_bodies(articles: dict[str, Article]) -> None:
    for article in articles.values():
        source_ref = article.extra.get("body_from")
        if not source_ref:
            continue
        source = articles.get(source_ref)
        if source is None or source.extra.get("body_from"):
            raise ReplicaError(f"{article.ref}: body_from {source_ref!r} is not a plain article")
        if source.verbatim:
            raise ReplicaError(f"{article.ref}: body_from {source_ref!r} is a verbatim page")
        drop = set(article.extra.get("drop_paragraphs", []))
        article.paragraphs = [p for i, p in enumerate(source.paragraphs) if i not in drop]


class Replica:
    """Every replicated portal, rendered, plus the run-time growth operations."""

    def __init__(self, sites_dir: Path = SITES_DIR) -> None:
        self.sites_dir = sites_dir
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._load()

    def _load(self) -> None:
        self.sites: dict[str, Site] = {}
        everything: dict[str, Article] = {}
        for name in PORTALS:
            directory = self.sites_dir / name
            articles = _load_articles(name, directory)
            everything.update((a.ref, a) for a in articles)
            self.sites[name] = Site(load_site_config(directory), articles)
        _resolve_bodies(everything)
        for ref, article in everything.items():
            if article.reprint_of and article.reprint_of not in everything:
                raise ReplicaError(f"{ref}: reprint_of {article.reprint_of!r} does not exist")
        self.reserve: list[dict[str, Any]] = [
            tomllib.loads(p.read_text(encoding="utf-8"))
            for p in sorted((self.sites_dir / "reserve").glob("*.toml"))
        ]
        self.hosts = {site.config.host: site for site in self.sites.values()}
        self.pages: dict[str, dict[str, Resource]] = {
            site.config.host: site.render() for site in self.sites.values()
        }

    def reset(self) -> None:
        """Back to the portals as shipped (drops every added article)."""
        with self._lock:
            self._load()

    # -- lookup ---------------------------------------------------------------
    def lookup(self, host: str, path: str) -> Resource | None:
        pages = self.pages.get(host)
        if pages is None:
            return None
        return pages.get(path)

    def not_found(self, host: str) -> Resource | None:
        pages = self.pages.get(host)
        return None if pages is None else pages[":404"]

    def is_directory(self, host: str, path: str) -> bool:
        pages = self.pages.get(host, {})
        return (path + "/index.html") in pages

    def find(self, url: str) -> Article | None:
        for site in self.sites.values():
            for article in site.articles:
                if site.url(article.path) == url or article.ref == url:
                    return article
        return None

    # -- growth ---------------------------------------------------------------
    def _new_path(self, site: Site, when: datetime) -> str:
        serial = next(self._counter)
        return site.style.new_path(when, serial)

    def add_article(self, site_name: str, data: dict[str, Any] | None = None) -> Article:
        """Publish a new article on top of ``site_name``'s first list page.

        ``data`` holds article fields (``title`` and ``body`` at least; a body
        may be a string with one paragraph per line or a list).  Without
        ``data`` the next unused reserve article is published.  Missing
        ``published_at`` means now; missing ``path`` is made in the portal's
        URL form.
        """
        with self._lock:
            site = self._site(site_name)
            if data is None:
                if not self.reserve:
                    raise ReplicaError("no reserve article left: pass an 'article'")
                data = self.reserve.pop(0)
            data = dict(data)
            if not isinstance(data.get("title"), str) or "body" not in data:
                raise ReplicaError("an added article needs 'title' and 'body'")
            return self._publish(site, data)

    def add_reprint(
        self,
        site_name: str,
        of: str,
        drop_paragraphs: list[int] | None = None,
        first_paragraph: str | None = None,
        source: str | None = None,
    ) -> Article:
        """Publish on ``site_name`` a reprint of the article at URL (or ``site/key``) ``of``."""
        with self._lock:
            site = self._site(site_name)
            original = self.find(of)
            if original is None:
                raise ReplicaError(f"no replicated article {of!r}")
            if original.verbatim:
                raise ReplicaError(f"{of!r} is a verbatim converter page; reprint another one")
            drop = set(drop_paragraphs or [])
            paragraphs = [p for i, p in enumerate(original.paragraphs) if i not in drop]
            if first_paragraph:
                paragraphs[0] = first_paragraph
            data: dict[str, Any] = {
                "title": original.title,
                "body": paragraphs,
                "source": source
                or original.source
                or self.sites[original.site].config.display_name,
                "authors": original.authors,
                "author_line": " ".join(original.authors),
                "reprint_of": original.ref,
                "event": original.event,
            }
            return self._publish(site, data)

    def _site(self, name: str) -> Site:
        if name not in self.sites:
            raise ReplicaError(f"unknown site {name!r}; known: {', '.join(PORTALS)}")
        return self.sites[name]

    def add_bulk(self, per_site: int, seed: int = 7) -> int:
        """Publish ``per_site`` synthetic articles on every portal (a benchmark corpus).

        Each is 5–8 paragraphs drawn at random from the replica's own articles
        (so pages look like the portal's real ones and texts are realistic),
        with its own title and date; the pages are rendered once at the end.
        Returns the number of articles added.
        """
        rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
        with self._lock:
            pool = [
                p
                for site in self.sites.values()
                for a in site.articles
                if not a.verbatim
                for p in a.paragraphs
                if len(p) >= 40
            ]
            titles = [a.title for site in self.sites.values() for a in site.articles]
            base = datetime(2023, 6, 30, 18, 0, tzinfo=CHINA)
            for site in self.sites.values():
                for i in range(per_site):
                    when = base - timedelta(
                        hours=6 * i + rng.randint(0, 5), minutes=rng.randint(0, 59)
                    )
                    body = rng.sample(pool, rng.randint(5, 8))
                    title = f"{rng.choice(titles)[:18]}（{i + 1}）"
                    self._publish(
                        site,
                        {
                            "title": title,
                            "body": body,
                            "published_at": when.isoformat(),
                            "source": site.config.display_name,
                            "authors": ["王明"],
                            "author_line": "王明",
                        },
                        render=False,
                    )
                self.pages[site.config.host] = site.render()
            return per_site * len(self.sites)

    def _publish(self, site: Site, data: dict[str, Any], render: bool = True) -> Article:
        when = datetime.now(CHINA).replace(microsecond=0)
        if data.get("published_at"):
            when = datetime.fromisoformat(str(data["published_at"]))
        when = site.style.truncate(when)
        data.setdefault("path", self._new_path(site, when))
        data.setdefault("date", site.style.format_date(when))
        data["published_at"] = when.isoformat() if site.style.has_date else ""
        if not site.style.has_date:
            data["date"] = ""
        if any(a.path == data["path"] for a in site.articles):
            raise ReplicaError(f"{site.config.name}: path {data['path']!r} already exists")
        key = f"added{next(self._counter)}"
        article = article_from_data(site.config.name, key, data, f"{site.config.name}/{key}")
        article.added = True
        if site.config.name == "docin":
            article.quality_flags = article.quality_flags or ["truncated_preview"]
        site.articles = [*site.articles, article]
        if render:
            self.pages[site.config.host] = site.render()
        return article

    # -- removals and edits (revisit tests) ---------------------------------------
    REMOVALS = ("404", "410", "soft404", "emptied", "notice", "redirect_home")
    OUTAGES = ("503", "challenge")

    def _article(self, url: str) -> tuple[Site, Article]:
        article = self.find(url)
        if article is None:
            raise ReplicaError(f"no replicated article {url!r}")
        return self.sites[article.site], article

    def remove(self, url: str, how: str = "404") -> Article:
        """Take an article down: ``how`` is one of ``REMOVALS`` (it leaves the list pages).

        ``404``, ``410``: that status; ``soft404``: the portal's 404 page with
        status 200; ``emptied``: the article page with no text; ``notice``: the
        article page saying 该信息已删除; ``redirect_home``: 302 to the home page.
        """
        if how not in self.REMOVALS:
            raise ReplicaError(f"'how' must be one of {', '.join(self.REMOVALS)}")
        return self._mark(url, removed=how)

    def outage(self, url: str, kind: str) -> Article:
        """Make an article answer ``503`` or a ``challenge`` page (status 200) until restored."""
        if kind not in self.OUTAGES:
            raise ReplicaError(f"'kind' must be one of {', '.join(self.OUTAGES)}")
        return self._mark(url, outage=kind)

    def restore(self, url: str) -> Article:
        """Undo a removal or an outage: the article is served (and listed) again."""
        return self._mark(url, removed=None, outage=None)

    def _mark(self, url: str, **marks: str | None) -> Article:
        """Set (or, with None, clear) an article's ``removed`` / ``outage`` and render again."""
        with self._lock:
            site, article = self._article(url)
            for name, value in marks.items():
                if value is None:
                    article.extra.pop(name, None)
                else:
                    article.extra[name] = value
            self.pages[site.config.host] = site.render()
            return article

    def edit(
        self,
        url: str,
        paragraph: int | None = None,
        text: str | None = None,
        title: str | None = None,
        ad: str | None = None,
        views: int | None = None,
    ) -> Article:
        """Change an article: paragraph ``paragraph`` (0-based) to ``text``, its ``title``,
        or only its page furniture: the advert box (``ad``) or view counter (``views``).

        A change of text or title moves the page's Last-Modified to now.
        """
        with self._lock:
            site, article = self._article(url)
            if paragraph is not None:
                if not 0 <= paragraph < len(article.paragraphs) or not text:
                    raise ReplicaError("'paragraph' must index a paragraph and 'text' be given")
                article.paragraphs[paragraph] = text
            if title:
                article.title = title
            if paragraph is not None or title:
                now = datetime.now(CHINA).replace(microsecond=0)
                article.extra["modified_at"] = now.isoformat()
            if ad is not None:
                article.extra["ad"] = ad
            if views is not None:
                article.extra["views"] = int(views)
            self.pages[site.config.host] = site.render()
            return article

    # -- manifest -------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """The ground truth of the replica (see ``docs`` in ``manifest.json``)."""
        with self._lock:
            return build_manifest(self)


def _article_entry(replica: Replica, site: Site, article: Article) -> dict[str, Any]:
    text = site.expected_text(article)
    origin = replica.find(article.reprint_of) if article.reprint_of else None
    kind = None
    if origin is not None:
        same = origin.paragraphs == article.paragraphs and not article.verbatim
        kind = "exact" if same and site.config.converter is None else "near"
    start = article.extra.get("expect_text_start") or (text[:24] if text else None)
    end = article.extra.get("expect_text_end") or (text[-24:] if text else None)
    return {
        "url": site.url(article.path),
        "key": article.key,
        "seed": article.seed,
        "reprint_of": replica.sites[origin.site].url(origin.path) if origin else None,
        "duplicate": kind,
        "event": article.event,
        "added": article.added,
        "title": _nfkc(article.title),
        "original_title": article.original_title and _nfkc(article.original_title),
        "published_at": article.published_at,
        "source": article.source,
        "authors": article.authors,
        "editors": article.editors,
        "responsible_editors": article.responsible_editors,
        "original_script": "traditional" if site.config.converter else "simplified",
        "quality_flags": article.quality_flags,
        "text_start": start,
        "text_end": end,
        "text": text,
    }


def build_manifest(replica: Replica) -> dict[str, Any]:
    portals: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    events: dict[str, list[str]] = {}
    total_kept = 0
    for name, site in replica.sites.items():
        entries = [_article_entry(replica, site, a) for a in site.ordered()]
        kept = [e for e in entries if e["reprint_of"] is None]
        in_site = {e["url"] for e in entries}
        kept_alone = [e for e in entries if e["reprint_of"] not in in_site]
        total_kept += len(kept)
        for e in entries:
            if e["reprint_of"]:
                group = groups.setdefault(
                    e["reprint_of"], {"kept": e["reprint_of"], "duplicates": []}
                )
                group["duplicates"].append({"url": e["url"], "kind": e["duplicate"]})
            if e["event"]:
                events.setdefault(e["event"], []).append(e["url"])
        portals[name] = {
            "display_name": site.config.display_name,
            "host": site.config.host,
            "scheme": site.config.scheme,
            "encoding": site.config.encoding,
            "content_type": site.config.content_type,
            "pagination": site.config.pagination,
            "page_size": site.config.page_size,
            "start_url": site.list_urls()[0],
            "list_pages": site.list_urls(),
            "robots_disallow": site.config.robots_disallow,
            "articles": entries,
            "expected_kept": len(kept),
            "expected_kept_alone": len(kept_alone),
        }
    return {
        "version": 1,
        "docs": (
            "Ground truth of the offline replica. Per portal: list_pages in order, articles "
            "newest first with the record each should give (text null = only text_start/"
            "text_end known), reprint_of = URL of the original (duplicate: exact|near). "
            "expected_kept = records kept when all portals are crawled and originals win; "
            "expected_kept_alone = when the portal is crawled alone. duplicate_groups: "
            "one kept URL and its reprints. same_event: different articles about one "
            "event, all of which must be kept."
        ),
        "portals": portals,
        "duplicate_groups": sorted(groups.values(), key=lambda g: g["kept"]),
        "same_event": {k: sorted(v) for k, v in sorted(events.items())},
        "expected_kept_total": total_kept,
    }


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """The manifest of the replica as shipped (``crawler/replica/sites/manifest.json``)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def manifest_json(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"
