"""The body as the best run of prose lines: one test per class of failure seen on real pages.

Each page here is written for the test in the style that shows the failure
(portal templates, news-site widgets); none is copied from a real site.
"""

from __future__ import annotations

import pytest
from pages import record_of

from crawler.items import ArticleItem
from pipelines.dom import linearize, parse_html
from pipelines.extract import extract_body, is_credit_line

TITLE = "全省政法工作会议召开"
A = "6月11日,全省政法工作会议在省会召开。会议深入学习贯彻习近平法治思想,总结去年全省政法工作。"
B = "会议指出,过去一年,全省政法机关坚持以人民为中心,深入推进平安建设、法治建设和过硬队伍建设。"
C = "会议强调,要坚持稳中求进工作总基调,统筹发展和安全,着力防范化解重大风险,维护社会大局稳定。"
D = "会议要求,各级政法机关要深化执法司法制约监督体系改革,加强政法队伍建设,服务保障高质量发展。"


def page(body: str, head: str = "") -> str:
    return (
        f"<html><head><title>{TITLE}_某某网</title>{head}</head><body>"
        "<div class='nav'><a href='/'>首页</a> <a href='/n'>新闻</a> <a href='/z'>政务</a></div>"
        f"<h1>{TITLE}</h1><div class='info'>2023-06-12 09:27 来源:某某日报</div>{body}"
        "<div class='footer'>Copyright © 2023 某某网 版权所有</div></body></html>"
    )


def body_of(html: str) -> list[str]:
    tree = parse_html(html)
    return extract_body(tree, title=TITLE, lines=linearize(tree)).paragraphs


def record(html: str) -> ArticleItem:
    return record_of(html)


def paras(*texts: str) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


def test_related_links_and_a_hot_list_after_the_article_are_not_text() -> None:
    related = "".join(
        f"<li><a href='/r{i}'>某地召开第{i}次平安建设推进会议</a></li>" for i in range(8)
    )
    html = page(f"<div class='article'>{paras(A, B, C)}</div><h3>热点新闻</h3><ul>{related}</ul>")
    assert body_of(html) == [A, B, C]


def test_reader_comments_after_the_article_are_not_text() -> None:
    said = "这篇报道写得很好,基层治理就应该这样抓,希望各地都能学习借鉴,真正落到实处。"
    comments = "".join(
        f"<div class='comment-item'><a class='user'>网友{i}</a>"
        f"<div class='comment-txt'>{said}</div>"
        "<span>3小时前</span><a>回复</a> <a>赞</a></div>"
        for i in range(6)
    )
    html = page(f"<div class='article'>{paras(A, B)}</div><div class='comments'>{comments}</div>")
    assert body_of(html) == [A, B]


@pytest.mark.parametrize(
    "notice",
    [
        "声明:本站力求信息真实、准确,文章提及内容仅供参考,不构成实质性投资建议。",
        "本文为某某网原创文章,未经授权不得转载。",
        "扫描下方二维码关注某某日报官方微信,获取更多资讯。",
        "特别声明:以上内容为自媒体平台用户上传并发布,本平台仅提供信息存储服务。",
    ],
)
def test_a_notice_right_after_the_article_is_not_text(notice: str) -> None:
    html = page(f"<div class='article'>{paras(A, B, C, notice)}</div>")
    assert body_of(html) == [A, B, C]


def test_a_call_to_action_inside_the_article_is_not_text() -> None:
    promo = "“2023年度法治人物评选”火热进行中!【点击投票】为你心目中的法治人物打call!"
    html = page(f"<div class='article'>{paras(promo, A, B, C)}</div>")
    assert body_of(html) == [A, B, C]


def test_a_summary_box_and_a_caption_before_the_article_are_not_text() -> None:
    html = page(
        "<div class='summary'><p>摘要:全省政法工作会议在省会召开,部署今年重点任务。</p></div>"
        "<div class='article'><p>会场一角。资料图</p>" + paras(A, B, C) + "</div>"
    )
    assert body_of(html) == [A, B, C]


def test_a_short_opening_line_in_the_article_block_is_kept() -> None:
    html = page(f"<div class='article'><p>下周一,</p>{paras(A, B, C)}</div>")
    assert body_of(html) == ["下周一,", A, B, C]


def test_a_short_article_right_after_the_headline_is_the_body() -> None:
    short = "6月11日,全省政法工作会议在省会召开,会议部署了今年重点任务。"
    login = "<div class='login-box'><p>登录超时,稍后再试</p><p>免注册快速登录</p></div>"
    html = page(f"{login}<div class='article'><p>{short}</p></div>")
    assert body_of(html) == [short]


def test_the_article_goes_on_after_a_related_box_inside_it() -> None:
    box = (
        "<div class='rel'><p>相关阅读</p>"
        + "".join(f"<p><a href='/x{i}'>某地召开第{i}次平安建设推进会议</a></p>" for i in range(3))
        + "</div>"
    )
    html = page(f"<div class='article'>{paras(A, B)}{box}{paras(C, D)}</div>")
    assert body_of(html) == [A, B, C, D]


def test_government_page_with_br_text_in_a_table_cell_gives_the_whole_body() -> None:
    nav = "".join(f"<a href='/l{i}'>栏目{i}</a> " for i in range(40))
    cell = "<br>".join([A, B, C, D] * 3)
    html = page(f"<table><tr><td>{nav}</td></tr><tr><td id='zoom'>{cell}</td></tr></table>")
    assert body_of(html) == [A, B, C, D] * 3


@pytest.mark.parametrize(
    ("line", "credit"),
    [
        ("(记者 张三 通讯员 李四)", True),
        ("文/图 刘玺东 易赛楠", True),
        ("新京报记者 陆一夫", True),
        ("编辑 刘晓阳 校对 李铭", True),
        ("(李楠)", True),
        ("采写:南都见习记者林子沛", False),  # labelled: the byline stage reads it
        ("作者:张三", False),
        ("会议要求,记者要深入基层一线。", False),
    ],
)
def test_credit_lines(line: str, credit: bool) -> None:
    assert is_credit_line(line) is credit


def test_trailing_credits_leave_the_text_and_name_the_authors() -> None:
    html = page(
        "<div class='article'>"
        + paras(A, B, C + "(记者 张三 通讯员 李四)")
        + "<p>(原题为《全省政法工作会议在省会召开》)</p></div>"
    )
    item = record(html)
    assert item.text.split("\n") == [A, B, C]
    assert item.authors == ["张三", "李四"]
    assert item.original_title == "全省政法工作会议在省会召开"


def test_a_credit_block_after_the_text_is_byline() -> None:
    html = page("<div class='article'>" + paras(A, B, C, "新京报记者 陆一夫") + "</div>")
    item = record(html)
    assert item.text.split("\n") == [A, B, C]
    assert item.authors == ["陆一夫"]


def test_a_summary_box_of_list_items_under_its_heading_is_not_text() -> None:
    box = "<p>划重点:</p><ul><li>" + A + "</li><li>" + B + "</li></ul>"
    html = page(f"<div class='article'>{box}{paras(C, D)}</div>")
    assert body_of(html) == [C, D]


@pytest.mark.parametrize(
    "after",
    [
        "<div class='kw'><p>标签</p><p><a href='/t1'>政法</a> <a href='/t2'>平安建设</a></p></div>"
        "<ul><li>某地召开平安建设推进会议,强调要抓好基层治理工作落实。</li></ul>",
        "<p>正文已结束,您可以按alt+4进行评论</p><p>网友热议:基层治理要抓好,这是民生大事。</p>",
        "<p>责任编辑:王五</p><p>某地召开平安建设推进会议,强调要抓好基层治理工作落实。</p>",
    ],
)
def test_the_article_ends_at_its_tags_an_end_notice_or_the_editor_line(after: str) -> None:
    html = page(f"<div class='article'>{paras(A, B, C)}{after}</div>")
    assert body_of(html) == [A, B, C]


def test_a_link_home_glued_after_the_last_sentence_is_not_text() -> None:
    html = page(
        f"<div class='article'>{paras(A, B)}<p>{C}<a href='/'>返回某某网首页&gt;&gt;</a></p></div>"
    )
    assert body_of(html) == [A, B, C]


def test_a_labelled_author_line_after_the_text_is_byline() -> None:
    html = page(f"<div class='article'>{paras(A, B, C)}<p>作者:张三 李四</p></div>")
    assert body_of(html) == [A, B, C]
    assert record(html).authors == ["张三", "李四"]


def test_an_article_held_only_in_a_block_named_like_a_widget_is_still_found() -> None:
    html = page(f"<div class='summary_x1'><p>昨天</p>{paras(A, B, C)}</div>")
    assert body_of(html) == [A, B, C]


def test_labelled_credit_lines_leave_the_text_but_an_interview_question_stays() -> None:
    question = "记者:请问这次会议部署了哪些重点任务?"
    html = page(
        f"<div class='article'>{paras(A, question, B, C)}<p>Author: 张三</p><p>审签:李四</p></div>"
    )
    assert body_of(html) == [A, question, B, C]


def test_a_data_table_inside_the_article_is_text_one_line_a_row() -> None:
    table = (
        "<table><tr><th>地区</th><th>案件数</th></tr><tr><td>甲县</td><td>12</td></tr>"
        "<tr><td>乙县</td><td>7</td></tr></table>"
    )
    html = page(f"<div class='article'>{paras(A, B)}{table}{paras(C)}{table}</div>")
    rows = ["地区 | 案件数", "甲县 | 12", "乙县 | 7"]
    assert body_of(html) == [A, B, *rows, C, *rows]


def test_a_bar_separated_info_line_with_colonless_labels_is_read_not_credited() -> None:
    info = "发表于2023-06-12 21:30| 1164次阅读| 来源某某网| 0 条评论| 作者张三"
    html = (
        f"<html><body><h1>{TITLE}</h1><div class='tit_bar'>{info}</div>"
        f"<div class='article'>{paras(A, B, C)}</div></body></html>"
    )
    item = record(html)
    assert item.text.split("\n") == [A, B, C]
    assert (item.authors, item.source) == (["张三"], "某某网")


def test_bar_labelled_credits_and_a_lone_closing_name_leave_the_text() -> None:
    html = page(
        f"<div class='article'>{paras(A, B, C, '(李四)', '校对|王五', '来源|某某日报')}</div>"
    )
    item = record(html)
    assert item.text.split("\n") == [A, B, C]
    assert item.authors == ["李四"]
