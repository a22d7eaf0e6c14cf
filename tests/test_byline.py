"""The byline vocabulary and the credit forms of real portal pages (pipelines.byline)."""

from __future__ import annotations

import pytest

from pipelines.byline import (
    Byline,
    body_credits,
    credit_line,
    outlet_line,
    parse_byline,
    parse_names,
    person_like,
    split_outlets,
    unlabelled_outlet,
)
from pipelines.dom import linearize, parse_html
from pipelines.metadata import Metadata, extract_metadata
from pipelines.vocab import CREDIT_FIELDS, FIELD_OF_LABEL, LABEL_COLON, META_LINE

# --- One vocabulary for both stages ---------------------------------------------------


@pytest.mark.parametrize("label", sorted(FIELD_OF_LABEL))
def test_every_label_is_counted_in_an_info_line(label: str) -> None:
    assert LABEL_COLON.findall(f"{label}:某某 ") == [label]


@pytest.mark.parametrize(
    "label", sorted(w for w, f in FIELD_OF_LABEL.items() if f in CREDIT_FIELDS)
)
def test_every_credit_label_starts_a_credit_line(label: str) -> None:
    """What the byline stage reads as a credit, the body stage cuts as one."""
    assert META_LINE.match(f"{label}:张三")
    assert META_LINE.match(f"【{label}: 张三】")


def test_date_and_widget_labels_are_not_credit_lines() -> None:
    assert not META_LINE.match("发布时间:2024-05-20")
    assert not META_LINE.match("浏览次数:12")


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("Author: John Smith", "authors", ["John Smith"]),
        ("Editor: 王五", "editors", ["王五"]),
        ("审签:赵六", "responsible_editors", ["赵六"]),
        ("采写:钱七", "authors", ["钱七"]),
    ],
)
def test_labels_of_either_stage_are_read(line: str, field: str, value: list[str]) -> None:
    assert META_LINE.match(line)
    assert getattr(parse_byline(line), field) == value


# --- Names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("杨倩_NF4425", ["杨倩"]),  # a staff code after the name
        ("韩梅梅 PK155", ["韩梅梅"]),
        ("Demi Xia", ["Demi Xia"]),  # one Latin name with a space
        ("网络整理", []),
        ("整合", []),
        ("受访者供图", []),
        ("文章总阅读", []),
        ("name, email@example.com", []),
    ],
)
def test_names_from_values(value: str, names: list[str]) -> None:
    assert parse_names(value) == names


def test_a_labelled_sign_off_handle_is_a_name() -> None:
    assert parse_byline("(责任编辑: QX808)").responsible_editors == ["QX808"]
    assert parse_byline("作者: QX808").authors == []  # an author is a person


@pytest.mark.parametrize(
    ("name", "person"),
    [
        ("王小明", True),
        ("欧阳明", True),
        ("阿依古丽·买买提", True),
        ("John Smith", True),
        ("城市快讯", False),  # an account name
        ("财经观察", False),
        ("网络", False),
        ("CSDN.NET", False),
    ],
)
def test_person_like(name: str, person: bool) -> None:
    assert person_like(name) is person


# --- Labels written without a colon -----------------------------------------------------


def test_labels_with_a_bar_for_their_colon() -> None:
    assert parse_byline("编辑|王小明").editors == ["王小明"]
    assert parse_byline("责编丨李大伟").responsible_editors == ["李大伟"]


def test_bare_labels_in_a_bar_separated_info_line() -> None:
    found = parse_byline("发表于2021-03-04 10:20| 503次阅读| 来源某某网| 0 条评论| 作者张小军")
    assert (found.source, found.authors) == ("某某网", ["张小军"])


def test_run_together_info_line_with_an_empty_label() -> None:
    found = parse_byline("来源:某市商报 时间:2021-09-23 14:34:05 作者:")
    assert (found.source, found.authors) == ("某市商报", [])
    assert "author" in found.labels


# --- Sources ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "source"),
    [
        ("某某晨报举报", "某某晨报"),  # a report widget glued after the name
        ("某某日报 纠错", "某某日报"),
        ("本站", None),
    ],
)
def test_source_values(value: str, source: str | None) -> None:
    assert parse_byline(f"来源: {value}").source == source


@pytest.mark.parametrize(
    ("line", "outlet"),
    [
        ("2021年03月04日 08:15 某某科技 我有话说(12人参与) 收藏本文", "某某科技"),
        ("原创 某城晚报 2021-03-04 08:15:20", "某城晚报"),
        ("某某网 2021-03-04 08:15:20", "某某网"),
        ("原创 GameLand 2021-03-04 08:15:20", None),  # an account, not an outlet
        ("2021年03月04日某某传媒要闻 1665 0", None),  # glued to the date: a channel label
        ("2021-03-04 作者:张三 某某报", None),  # a labelled line is read by its labels
    ],
)
def test_unlabelled_outlet_beside_the_date(line: str, outlet: str | None) -> None:
    assert unlabelled_outlet(line) == outlet


def test_outlet_alone_or_after_names_beside_the_date() -> None:
    assert outlet_line("新华社") == Byline(source="新华社")
    assert outlet_line("王小明/某某青年报") == Byline(source="某某青年报", authors=["王小明"])
    assert outlet_line("会议召开") is None


# --- Credits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "authors", "editors"),
    [
        ("某京报记者 陈一帆", ["陈一帆"], []),
        ("编辑 刘小阳 校对 李小铭", [], ["刘小阳"]),  # a proof-reader is neither
        ("(文/图 刘小东 易小楠)", ["刘小东", "易小楠"], []),
        ("采写:某都见习记者 林小沛", ["林小沛"], []),
        ("某子晚报记者张小楠", ["张小楠"], []),
        ("《某镜》作者 周小纯", ["周小纯"], []),
        ("文/某某网专栏作者 王小文", ["王小文"], []),
        ("某党支部、某科供稿 摄影/张小艳 编辑/苏小芳", [], ["苏小芳"]),
        ("记者 张小三 通讯员 李小四 报道", ["张小三", "李小四"], []),
    ],
)
def test_credit_lines(line: str, authors: list[str], editors: list[str]) -> None:
    found = credit_line(line)
    assert found is not None
    assert (found.authors, found.editors) == (authors, editors)


@pytest.mark.parametrize(
    "line",
    [
        "(记者 张小三 摄)",  # a photographer only
        "▲某某日报全媒体图片记者黎小旭、李小妍摄",
        "编辑部的故事",  # a word, not a role and a name
        "记者了解到",
        "本报记者",
        "记者:好的",  # an interview's question
        "作者:余小菁 向小妮返回首页,查看更多",
    ],
)
def test_lines_that_are_not_credits(line: str) -> None:
    assert credit_line(line) is None


def test_body_credits_in_brackets_and_trailing_credit_lines() -> None:
    found = body_credits(
        [
            "某地要闻",  # a widget line the body kept before the text
            "本站讯(职工通讯员 李小雯 刘小会)为深入推进工作,10月30日举办了大赛。",
            "比赛分为理论考试与技能竞赛两个部分,共有四十名选手参加。",
            "某京报记者 陈一帆",
            "编辑 刘小阳 校对 李小铭",
            "- 相关新闻一",
        ]
    )
    assert (found.authors, found.editors) == (["李小雯", "刘小会", "陈一帆"], ["刘小阳"])


def test_wire_dateline_credit() -> None:
    found = body_credits(["新华社巴黎12月9日电(记者 唐小霁)法国总统9日表示,将继续推进改革。"])
    assert found.authors == ["唐小霁"]


def test_a_bare_name_closing_the_text() -> None:
    found = body_credits(
        ["苹果公司于北京时间凌晨在其总部举办秋季新品发布会,发布了新手机。(李小楠)", "扫码关注"]
    )
    assert found.authors == ["李小楠"]
    assert body_credits(["会议要求各单位抓好落实,确保取得实效。(完)"]).authors == []


# --- Where the byline comes from (whole pages) -------------------------------------------


def _page(head: str, body: str) -> Metadata:
    tree = parse_html(f"<html><head>{head}</head><body>{body}</body></html>")
    lines = linearize(tree)
    paragraphs = [p.text for p in lines if p.owner.tag == "p"]
    return extract_metadata(
        tree,
        url="http://x.cn/a.html",
        fetched_at="2024-05-20T15:00:00+08:00",
        lines=lines,
        paragraphs=paragraphs,
    )


HEADLINE = "<h1>某市召开社会治理工作推进会议</h1><div class='info'>2024-05-18 09:30</div>"
TEXT = "<p>5月18日,某市召开社会治理工作推进会议,部署下一阶段重点工作任务。</p>"


@pytest.mark.parametrize(
    "author",
    [
        "某门户",  # the site itself (its copyright holder)
        "城市快讯号",  # a self-media account
        "name, email@example.com",  # a template placeholder
    ],
)
def test_meta_author_tags_that_name_no_person(author: str) -> None:
    head = (
        f"<meta name='author' content='{author}'><meta name='copyright' content='某门户版权所有'>"
    )
    assert _page(head, HEADLINE + TEXT).authors == []


def test_meta_author_tag_with_a_person_or_pen_name() -> None:
    assert _page("<meta name='author' content='王小明'>", HEADLINE + TEXT).authors == ["王小明"]
    assert _page("<meta name='author' content='kingpen'>", HEADLINE + TEXT).authors == ["kingpen"]


def test_body_credit_outranks_the_meta_author_tag() -> None:
    text = "<p>本报讯(记者 陈小帆)5月18日,某市召开社会治理工作推进会议,部署重点工作任务。</p>"
    assert _page("<meta name='author' content='王小明'>", HEADLINE + text).authors == ["陈小帆"]


def test_class_hints_far_from_the_article_are_ignored() -> None:
    sidebar = "<ul>" + "".join(f"<li>其他新闻标题第{i}条内容</li>" for i in range(30)) + "</ul>"
    page = HEADLINE + TEXT + sidebar + "<span class='source'>某某晚报</span>"
    assert _page("", page).source is None
    near = HEADLINE.replace("</div>", " <span class='source'>某某晚报</span></div>")
    assert _page("", near + TEXT).source == "某某晚报"


def test_trailing_credit_block_after_the_body() -> None:
    body = HEADLINE + TEXT + "<p>某京报记者 陈一帆</p><p>编辑 刘小阳 校对 李小铭</p>"
    md = _page("", body)
    assert (md.authors, md.editors) == (["陈一帆"], ["刘小阳"])


def test_trailing_writer_credit_in_brackets() -> None:
    found = body_credits(
        ["第一段。", "活动持续到下午五点,吸引了上千名市民参加。(文/图 刘小东 易小楠)"]
    )
    assert found.authors == ["刘小东", "易小楠"]


def test_credit_label_glued_to_the_affiliation_and_name() -> None:
    assert parse_byline("采写:某都见习记者林小沛").authors == ["林小沛"]


@pytest.mark.parametrize(
    ("line", "source", "authors"),
    [
        ("来源:中国某某网王小帆", "中国某某网", ["王小帆"]),  # a name glued after the outlet
        ("来源:某某日报海外网", "某某日报海外网", []),
        ("作者:www.example.cn", None, []),  # a web address is not a person
    ],
)
def test_source_with_a_name_glued_and_web_address_authors(
    line: str, source: str | None, authors: list[str]
) -> None:
    found = parse_byline(line)
    assert (found.source, found.authors) == (source, authors)


def test_an_outlet_with_a_channel_after_a_dot_stays_whole() -> None:
    assert person_like("·某号·政务") is False
    assert parse_byline("来源:某某新闻·某某号·政务").source == "某某新闻·某某号·政务"


def test_a_headline_found_below_the_body_does_not_anchor_the_byline() -> None:
    """The title stage took a sidebar's headline: the byline is read near the page top."""
    text = "- 某市召开社会治理工作推进会议,部署下一阶段重点工作任务,要求各地区各部门抓好落实。"
    html = (
        "<h3>某市召开社会治理工作推进会议</h3><div>2019-09-07 15:10:53 来源:某某晚报</div>"
        f"<p>{text[2:]}</p><div>推荐阅读</div><div class='side'>另一篇文章的标题在这里</div>"
        "<div>2019-09-08</div>"
    )
    tree = parse_html(html)
    md = extract_metadata(
        tree,
        url="http://x.cn/a.html",
        fetched_at="2024-05-20T15:00:00+08:00",
        lines=linearize(tree),
        paragraphs=[text],
        title="另一篇文章的标题在这里",
    )
    assert (md.published_at, md.source) == ("2019-09-07T15:10:53+08:00", "某某晚报")


def test_an_unlabelled_outlet_that_is_the_site_itself_is_not_the_source() -> None:
    head = "<title>某市召开社会治理工作推进会议_要闻_某某长安网</title>"
    dated = "<h1>某市召开社会治理工作推进会议</h1><div>2024-05-18 09:30 某某长安网</div>"
    assert _page(head, dated + TEXT).source is None
    other = dated.replace("某某长安网</div>", "某某日报</div>")
    assert _page(head, other + TEXT).source == "某某日报"


def test_a_labelled_author_that_is_the_site_is_dropped() -> None:
    head = "<meta name='copyright' content='某易公司版权所有'>"
    page = HEADLINE.replace("</div>", " 作者:某易</div>") + TEXT
    assert _page(head, page).authors == []
    assert _page(head, HEADLINE.replace("</div>", " 作者:王小明</div>") + TEXT).authors == [
        "王小明"
    ]


def test_two_outlets_run_together() -> None:
    links = frozenset({"某某网", "首页"})
    assert split_outlets("某某网某某日报", links) == "某某网"
    assert split_outlets("某某日报海外网", frozenset({"某某日报海外网"})) == "某某日报海外网"
    assert split_outlets("某某日报海外网", frozenset()) == "某某日报海外网"
    page = HEADLINE.replace("</div>", " 来源:<a href='/'>某某网</a><a href='/r'>某某日报</a></div>")
    assert _page("", page + TEXT).source == "某某网"


def test_a_photo_credit_is_not_the_article_s_source() -> None:
    found = parse_byline("图片来源:某某社")
    assert (found.source, found.authors) == (None, [])
    assert parse_byline("稿件来源:某某日报 图片:李小四").source == "某某日报"


def test_widget_links_after_a_role_word_are_not_a_credit() -> None:
    assert credit_line("编辑 收藏") is None
    assert credit_line("编辑 刘小阳") is not None
