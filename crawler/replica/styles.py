"""Each replicated portal's own HTML forms: info line, body, list items, pager.

The page skeletons are templates under ``sites/<name>/``; what varies per
article (and must look exactly like the real portal: the info line run
together on 国际在线, the bullet list on 大理, the converter's labels on
遼寧長安網, the pagination markup) is written here, one class per portal.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from crawler.replica.sites import Article, Site


def _day(article: Article) -> str:
    return article.date[:10]


class Style:
    """The default forms; subclasses override what their portal does differently."""

    date_format: ClassVar[str] = "%Y-%m-%d %H:%M:%S"
    has_date: ClassVar[bool] = True

    def __init__(self, site: Site) -> None:
        self.site = site

    # -- helpers --------------------------------------------------------------
    def text(self, article: Article, value: str) -> str:
        """A field value as the page shows it, escaped."""
        return escape(value if article.verbatim else self.site.script(value))

    def title(self, article: Article) -> str:
        shown = article.extra.get("page_title") or article.title
        return self.text(article, shown)

    def href(self, article: Article) -> str:
        """The link to an article as this portal writes it on list pages."""
        return self.site.url(article.path)

    def summary(self, article: Article, length: int = 60) -> str:
        first = article.paragraphs[0] if article.paragraphs else ""
        return self.text(article, first[:length]) + "……"

    def format_date(self, when: datetime) -> str:
        return when.strftime(self.date_format)

    def truncate(self, when: datetime) -> datetime:
        return when if "%S" in self.date_format else when.replace(second=0)

    # -- pieces ---------------------------------------------------------------
    def paragraph(self, article: Article, text: str) -> str:
        return f'<p style="text-indent: 2em;">{self.text(article, text)}</p>'

    def body(self, article: Article) -> str:
        return "\n".join(self.paragraph(article, p) for p in article.paragraphs)

    def info(self, article: Article) -> str:
        raise NotImplementedError

    def article_fields(self, article: Article) -> dict[str, Any]:
        return {
            "title": self.title(article),
            "description": self.summary(article, 100),
            "date": escape(article.date),
            "source": self.text(article, article.source or ""),
            "author": self.text(article, article.author_line or ""),
            "info": self.info(article),
            "body": self.body(article),
        }

    def list_item(self, article: Article) -> str:
        return (
            f'<li><a href="{self.href(article)}" target="_blank">{self.title(article)}</a>'
            f"<span>{_day(article)}</span></li>"
        )

    def related_item(self, article: Article) -> str:
        return f'<li><a href="{self.href(article)}" target="_blank">{self.title(article)}</a></li>'

    def sidebar_item(self, article: Article) -> str:
        return self.related_item(article)

    def page_href(self, page: int) -> str:
        return self.site.config.list_path(page).rsplit("/", 1)[1]

    def pager(self, page: int, total: int) -> str:
        parts = []
        if page > 1:
            parts.append(f'<a href="{self.page_href(1)}">首页</a>')
            parts.append(f'<a href="{self.page_href(page - 1)}">上一页</a>')
        for k in range(1, total + 1):
            if k == page:
                parts.append(f'<span class="current">{k}</span>')
            else:
                parts.append(f'<a href="{self.page_href(k)}">{k}</a>')
        if page < total:
            parts.append(f'<a href="{self.page_href(page + 1)}" class="next">下一页</a>')
            parts.append(f'<a href="{self.page_href(total)}">尾页</a>')
        else:
            parts.append('<span class="disabled">下一页</span>')
        return "\n".join(parts)

    def new_path(self, when: datetime, serial: int) -> str:
        raise NotImplementedError


class CriStyle(Style):
    """国际在线: date, source, editor and responsible editor in spans with no separators."""

    def info(self, article: Article) -> str:
        spans = [f'<span id="acreatedtime">{escape(article.date)}</span>']
        if article.source:
            spans.append(
                f'<span id="asource">来源：<a href="javascript:void(0)">'
                f"{escape(article.source)}</a></span>"
            )
        if article.editors:
            spans.append(f'<span id="aeditor">编辑：{escape(" ".join(article.editors))}</span>')
        if article.responsible_editors:
            names = escape(" ".join(article.responsible_editors))
            spans.append(f'<span id="aeditor2">责编：{names}</span>')
        return "".join(spans)

    def body(self, article: Article) -> str:
        lines = []
        if article.original_title:
            lines.append(
                f'<p style="text-indent:2em;">原标题：{escape(article.original_title)}</p>'
            )
        lines += [f'<p style="text-indent:2em;">{escape(p)}</p>' for p in article.paragraphs]
        return "\n".join(lines)

    def article_fields(self, article: Article) -> dict[str, Any]:
        fields = super().article_fields(article)
        fields["contentid"] = article.path.rsplit("/", 1)[1][:-5].replace("-", "")[:20]
        return fields

    def list_item(self, article: Article) -> str:
        return (
            f'<li><h4><a href="{self.href(article)}" target="_blank">{self.title(article)}</a></h4>'
            f'<p class="abs">{self.summary(article)}</p>'
            f'<span class="time">{escape(article.date)}</span></li>'
        )

    def sidebar_item(self, article: Article) -> str:
        return f'<li><a href="{self.href(article)}" target="_blank">{self.title(article)}</a></li>'

    def new_path(self, when: datetime, serial: int) -> str:
        ident = uuid.uuid5(uuid.NAMESPACE_URL, f"ln.cri.cn/{when.isoformat()}/{serial}")
        return f"/{when:%Y%m%d}/{ident}.html"


class DaliStyle(Style):
    """大理州人民政府 (TRS): bullet metadata, font-size widget, picture first."""

    date_format = "%Y-%m-%d %H:%M"

    def href(self, article: Article) -> str:
        # TRS writes article links relative to the column: ./202006/t20200623_512346.html
        return "./" + article.path[len(self.site.config.list_dir) :]

    def info(self, article: Article) -> str:
        zoom = (
            '字体：【<a href="javascript:doZoom(18)">大</a> '
            '<a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>】'
        )
        items = [
            f"时间：{escape(article.date)}",
            f"来源：{escape(article.source or '')}",
            f"作者：{escape(article.author_line or '')}",
            zoom,
        ]
        return "\n".join(f"      <li>{item}</li>" for item in items)

    def body(self, article: Article) -> str:
        stamp = article.path.rsplit("_", 1)[-1][:-5]
        picture = (
            f'<p style="text-align: center;"><img src="./W0{article.date[:10].replace("-", "")}'
            f'{stamp}00001.jpg" oldsrc="W0{stamp}.jpg" alt="" /></p>'
        )
        return picture + "\n" + super().body(article)

    def list_item(self, article: Article) -> str:
        return (
            f'<li><span class="date">{_day(article)}</span><a href="{self.href(article)}" '
            f'target="_blank" title="{self.title(article)}">{self.title(article)}</a></li>'
        )

    def related_item(self, article: Article) -> str:
        return (
            f'<li><a href="{article.path}" target="_blank">{self.title(article)}</a>'
            f"<span>{_day(article)}</span></li>"
        )

    def pager(self, page: int, total: int) -> str:
        return (
            f'<script type="text/javascript">createPageHTML({total}, {page - 1}, '
            '"index", "html");</script>'
        )

    def new_path(self, when: datetime, serial: int) -> str:
        return f"/dlrmzf/tpxw/{when:%Y%m}/t{when:%Y%m%d}_{700000 + serial}.html"


class DocinStyle(Style):
    """豆丁网: a document reader with no date; the paywall tail is in the template."""

    has_date = False

    def info(self, article: Article) -> str:
        uploader = escape(str(article.extra.get("uploader", "mooonya")))
        pages = int(article.extra.get("pages", 5))
        return (
            f'<span class="pages">{pages}页</span>'
            f'<span class="uploader">上传者：<a href="https://www.docin.com/{uploader}">'
            f"{uploader}</a></span>"
            f'<span class="views">浏览：{pages * 131}次</span>'
            f'<span class="score">格式：DOC</span>'
        )

    def paragraph(self, article: Article, text: str) -> str:
        return f"<p>{escape(text)}</p>"

    def list_item(self, article: Article) -> str:
        href = self.href(article)
        pages = int(article.extra.get("pages", 5))
        return (
            '<div class="doc_item">'
            f'<a class="doc_cover" href="{href}" target="_blank"><img src="https://st.douding.cn/'
            f'images_cn/cover/doc.png" alt="{self.title(article)}"></a>'
            f'<h4><a href="{href}" target="_blank" title="{self.title(article)}">'
            f"{self.title(article)}</a></h4>"
            f'<p class="doc_summary">{self.summary(article)}</p>'
            f'<span class="doc_meta">{pages}页 · mooonya</span></div>'
        )

    def new_path(self, when: datetime, serial: int) -> str:
        return f"/p-{2590000000 + serial}.html"


class LnzfStyle(Style):
    """遼寧長安網 through the converter: labels and values in converter script."""

    date_format = "%Y-%m-%d %H:%M"

    def href(self, article: Article) -> str:
        return "./" + article.path[len(self.site.config.list_dir) :]

    def info(self, article: Article) -> str:
        if article.verbatim:
            source = escape(str(article.extra.get("source_line", article.source or "")))
            author = escape(article.author_line or "")
        else:
            source = self.text(article, article.source or "")
            author = self.text(article, article.author_line or "")
        label = self.site.script
        return (
            f"{label('来源')}:{source} | {label('作者')}:{author} | "
            f"{label('发布时间')}: {escape(article.date)}"
        )

    def paragraph(self, article: Article, text: str) -> str:
        return f"<p>\u3000\u3000{self.text(article, text)}</p>"

    def related_item(self, article: Article) -> str:
        return (
            f'<li><a href="{article.path}" target="_blank">{self.title(article)}</a>'
            f"<span>{_day(article)}</span></li>"
        )

    def sidebar_item(self, article: Article) -> str:
        picture = "/images/pic_" + article.path.rsplit("_", 1)[-1][:-5] + ".jpg"
        return (
            f'<li><a href="{self.href(article)}" target="_blank"><img src="{picture}" alt="">'
            f"<p>{self.title(article)}</p></a></li>"
        )

    def pager(self, page: int, total: int) -> str:
        return (
            f'<script type="text/javascript">createPageHTML({total}, {page - 1}, '
            '"index", "html");</script>'
        )

    def new_path(self, when: datetime, serial: int) -> str:
        return f"/szyw/{when:%Y%m}/t{when:%Y%m%d}_{5000000 + serial}.html"


class ScfzwStyle(Style):
    """四川法制网 (帝国CMS): one info line, 责任编辑 after the body, root-relative links."""

    def href(self, article: Article) -> str:
        return article.path

    def info(self, article: Article) -> str:
        return (
            f"<span>来源：{escape(article.source or '')}</span> "
            f"<span>作者：{escape(article.author_line or '')}</span> "
            f"<span>发布时间：{escape(article.date)}</span>"
        )

    def paragraph(self, article: Article, text: str) -> str:
        return f"<p>{escape(text)}</p>"

    def article_fields(self, article: Article) -> dict[str, Any]:
        fields = super().article_fields(article)
        fields["editor"] = "责任编辑：" + escape(" ".join(article.responsible_editors))
        return fields

    def list_item(self, article: Article) -> str:
        return (
            f'<li><span class="date">{_day(article)}</span>'
            f'<a href="{self.href(article)}" target="_blank">{self.title(article)}</a></li>'
        )

    def page_href(self, page: int) -> str:
        return self.site.config.list_path(page)

    def pager(self, page: int, total: int) -> str:
        count = len(self.site.articles)
        parts = [f'<a title="Total record">&nbsp;<b>{count}</b> </a>']
        if page > 1:
            parts.append(f'<a href="{self.page_href(1)}">首页</a>')
            parts.append(f'<a href="{self.page_href(page - 1)}">上一页</a>')
        for k in range(1, total + 1):
            parts.append(f"<b>{k}</b>" if k == page else f'<a href="{self.page_href(k)}">{k}</a>')
        if page < total:
            parts.append(f'<a href="{self.page_href(page + 1)}">下一页</a>')
            parts.append(f'<a href="{self.page_href(total)}">尾页</a>')
        return "&nbsp;".join(parts)

    def new_path(self, when: datetime, serial: int) -> str:
        return f"/shzl/{when:%Y-%m}/{when:%d}/{90000 + serial}.html"


STYLES: dict[str, type[Style]] = {
    "cri": CriStyle,
    "dali": DaliStyle,
    "docin": DocinStyle,
    "lnzf": LnzfStyle,
    "scfzw": ScfzwStyle,
}
