"""Body extraction (pipelines.extract): portal boilerplate rules and fallbacks."""

from __future__ import annotations

import pytest

import pipelines.extract as extract_module
from pipelines.dom import linearize, parse_html, select_lines
from pipelines.extract import (
    clean_lines,
    density_lines,
    extract_body,
    is_info_line,
    unwrap_layout_tables,
)

P1 = "7月14日,辽宁省社会治理工作会议在沈阳召开。省委书记出席会议并讲话,省长主持会议。"
P2 = "会议指出,要加强系统治理、依法治理、综合治理、源头治理,不断提高社会治理社会化、法治化水平。"
P3 = "会议以电视电话会议形式召开,各市、县(市、区)和沈抚示范区设分会场。"


def test_copyright_declaration_with_its_heading_is_cut() -> None:
    body = clean_lines(
        [
            P1,
            P2,
            P3,
            "国际在线版权与信息产品内容销售的声明",
            "1、“国际在线”由中国国际广播电台主办。",
            "2、凡本网注明“来源:国际在线”的所有信息内容,未经书面授权,任何单位及个人不得转载。",
        ]
    )
    assert body.paragraphs == [P1, P2, P3]


def test_copyright_declaration_without_its_heading_is_cut_from_the_first_clause() -> None:
    body = clean_lines(
        [
            P1,
            P2,
            P3,
            "1、“国际在线”由中国国际广播电台主办。经授权,某公司独家负责网站的市场经营。",
            "2、凡本网注明“来源:国际在线”的所有信息内容,未经书面授权,任何单位及个人不得转载。",
            "4、凡本网注明“来源:XXX(非国际在线)”的作品,均转载自其它媒体,转载目的在于传递更多信息。",
        ]
    )
    assert body.paragraphs == [P1, P2, P3]


def test_numbered_body_paragraphs_are_kept() -> None:
    lines = ["1、加强组织领导,压实工作责任。", "2、强化宣传引导,营造良好氛围。", P1]
    assert clean_lines(lines).paragraphs == lines


@pytest.mark.parametrize(
    "footer",
    [
        "蜀ICP备12029925号-1 川公网安备 51010402001487号",
        "Copyright © 1997-2020 by www.scfzw.net all rights reserved",
        "新闻总署国登2012-F00075847号· 知识产权 (川)作登字2017F00078064",
        "主办:渠县人民政府办公室",
        "版权所有:大理州人民政府办公室",
        "【打印本页】 【关闭窗口】",
        "分享到: 微信 微博",
        "相关新闻",
        "上一篇:全省政法工作会议召开",
        "扫一扫在手机打开当前页",
    ],
)
def test_footers_and_widgets_end_the_body(footer: str) -> None:
    body = clean_lines([P1, P2, footer, "本网站(非新闻类)刊发信息不代表主办单位观点"])
    assert body.paragraphs == [P1, P2]


@pytest.mark.parametrize(
    "junk",
    [
        "当前位置 : 首页 > 图片新闻",
        "您现在的位置:首页 > 新闻中心",
        "字体:【大 中 小】",
        "【字号:大 中 小】",
        "');",
        "document.write('<script src=/count.js></script>');",
        "> 政法动态",
        "浏览次数:236",
        "· · ·",
    ],
)
def test_widget_lines_are_dropped(junk: str) -> None:
    assert clean_lines([junk, P1, junk, P2]).paragraphs == [P1, P2]


def test_sentences_mentioning_widget_words_are_kept() -> None:
    lines = [
        P1,
        "他们把调解经验分享到了各个社区,群众纷纷点赞。",
        "会议要求加强知识产权和版权保护工作,严厉打击侵权盗版行为。",
        "当天,市民可以扫码下载文档模板,办理相关业务。",
    ]
    assert clean_lines(lines).paragraphs == lines


def test_metadata_lines_go_to_the_metadata() -> None:
    body = clean_lines(
        [
            "原标题:全省社会治理工作会议召开 张国清讲话",
            "来源:渠县政法委 作者: 发布时间:2021-09-02 17:33:01",
            P1,
            P2 + "(编辑:张三)",
            "责任编辑:李位川",
        ],
        title="辽宁省社会治理工作会议召开",
    )
    assert body.paragraphs == [P1, P2]
    assert body.original_title == "全省社会治理工作会议召开 张国清讲话"
    assert body.meta_lines == [
        "来源:渠县政法委 作者: 发布时间:2021-09-02 17:33:01",
        "责任编辑:李位川",
        "(编辑:张三)",
    ]


def test_title_repeated_in_the_body_is_dropped() -> None:
    body = clean_lines(["辽宁省社会治理工作会议召开", P1], title="辽宁省社会治理工作会议召开")
    assert body.paragraphs == [P1]


def test_the_body_credit_stays_in_the_text() -> None:
    assert clean_lines([P1, P3]).paragraphs == [P1, P3]


@pytest.mark.parametrize(
    "tail",
    [
        ["预览阅读已结束,若您需要全文或代笔。", "请点击👉 mooonya 👈联系老师"],
        ["剩余80%内容,订阅后可阅读全文", "开通会员"],
        ["展开全文"],
        ["下载文档"],
    ],
)
def test_paywall_tails_are_cut_and_flagged(tail: list[str]) -> None:
    body = clean_lines([P1, P2, *tail])
    assert body.paragraphs == [P1, P2]
    assert body.truncated


def test_a_read_more_button_before_the_body_is_only_dropped() -> None:
    body = clean_lines(["阅读全文", P1])
    assert body.paragraphs == [P1]
    assert not body.truncated


@pytest.mark.parametrize(
    ("line", "info"),
    [
        ("来源:渠县政法委 作者: 发布时间:2021-09-02 17:33:01", True),
        ("2022-07-15 10:12:31来源:辽宁日报编辑:王巍责编:李胜兰", True),
        ("2020-07-16 08:45", True),
        ("时间:2023年5月1日 地点:县会议中心", False),
        (P1, False),
    ],
)
def test_is_info_line(line: str, info: bool) -> None:
    assert is_info_line(line) is info


# --- Trees ----------------------------------------------------------------------------


def test_linearize_splits_blocks_and_br_and_skips_scripts() -> None:
    tree = parse_html(
        "<html><body><div>甲<script>var x=1;</script>乙<br>丙<p>丁<a href='#'>链接</a></p>"
        "<!-- 注释 -->戊</div></body></html>"
    )
    lines = linearize(tree)
    assert [line.text for line in lines] == ["甲乙", "丙", "丁链接", "戊"]
    assert [line.link_chars for line in lines] == [0, 0, 2, 0]


def test_unwrap_layout_tables_keeps_data_tables() -> None:
    tree = parse_html(
        "<table id='layout'><tr><td>" + "长" * 90 + "</td></tr></table>"
        "<table id='data'><tr><td>姓名</td><td>职务</td></tr></table>"
    )
    unwrap_layout_tables(tree)
    assert tree.xpath("//table/@id") == ["data"]


def test_single_cell_banner_tables_are_layout() -> None:
    tree = parse_html(
        "<table id='banner'><tr><td>欢迎来到本网 主办:某某委员会</td></tr></table>"
        "<table id='frame'><tr><td>甲</td></tr><tr><td>乙<table id='inner'><tr><td>姓名</td>"
        "<td>职务</td></tr></table></td></tr></table>"
        "<table id='data'><tr><th>地区</th><th>案件数</th></tr><tr><td>甲县</td><td>12</td></tr>"
        "</table>"
    )
    unwrap_layout_tables(tree)
    # Rows of one cell: a banner or a frame; two columns: data, even inside a frame.
    assert tree.xpath("//table/@id") == ["inner", "data"]


def test_a_banner_table_above_the_title_stays_out_of_the_text() -> None:
    html = (
        "<html><head><title>县委政法委召开会议</title></head><body>"
        "<table width='1000'><tr><td class='top'>欢迎来到长安网 主办:中共某省委政法委员会</td>"
        "</tr></table><table width='1000'><tr><td><div class='bt'>县委政法委召开会议</div>"
        "<div class='sj'>来源:某某报 | 发布时间: 2020-07-16 08:45</div>"
        f"<div class='TRS_Editor'><p>{P1}</p><p>{P2}</p><p>{P3}</p></div>"
        "</td></tr></table></body></html>"
    )
    body = extract_body(parse_html(html), title="县委政法委召开会议")
    assert body.paragraphs[0] == P1
    assert not any("欢迎来到" in p for p in body.paragraphs)


def test_layout_table_with_br_paragraphs_keeps_the_paragraphs() -> None:
    html = (
        "<html><head><title>t</title></head><body><table><tr><td><a href='/'>首页</a></td></tr>"
        "<tr><td><div id='zoom'>　　"
        + P1
        + "<br>　　"
        + P2
        + "<br>　　"
        + P3
        + "</div></td></tr></table></body></html>"
    )
    body = extract_body(parse_html(html))
    assert body.paragraphs == [P1, P2, P3]


def test_selector_overrides_the_extractor() -> None:
    html = (
        "<html><body><div class='side'>" + ("侧栏推荐内容很多很多。" * 30) + "</div>"
        "<div id='contentText'><p>" + P1 + "</p><p>" + P2 + "</p><p>" + P3 + "</p></div>"
        "</body></html>"
    )
    body = extract_body(parse_html(html), selectors={"body": "#contentText"})
    assert (body.method, body.paragraphs) == ("selector", [P1, P2, P3])


def test_a_bad_or_empty_selector_falls_back() -> None:
    html = (
        "<html><body><article><p>"
        + P1
        + "</p><p>"
        + P2
        + "</p><p>"
        + P3
        + "</p></article></body></html>"
    )
    tree = parse_html(html)
    assert select_lines(tree, "div..bad") == []
    body = extract_body(tree, selectors={"body": "#missing"})
    assert body.method == "run"
    assert body.paragraphs == [P1, P2, P3]


def test_density_fallback_picks_the_block_with_the_most_text() -> None:
    html = (
        "<html><body><ul class='nav'>"
        + "".join(f"<li><a>栏目{i}</a></li>" for i in range(20))
        + "</ul>"
        "<div class='a'><p>" + P1 + "</p><p>" + P2 + "</p></div>"
        "<div class='b'><p>短。</p></div></body></html>"
    )
    assert density_lines(linearize(parse_html(html))) == [P1, P2]


def test_empty_and_garbage_documents() -> None:
    for html in (
        "",
        "   ",
        "<html></html>",
        "<?xml version='1.0' encoding='gbk'?><html><body></body></html>",
    ):
        body = extract_body(parse_html(html))
        assert body.paragraphs == []


def test_a_paragraph_group_in_its_own_box_stays_in_the_run() -> None:
    paras = [
        f"第{i}段。会议指出,要坚持以人民为中心的发展思想,不断完善社会治理体系,维护社会稳定。"
        for i in range(6)
    ]
    html = (
        "<html><body><h1>标题</h1><div class='article'><p>"
        + "</p><p>".join(paras[:2])
        + "</p><div class='box-x'><p>"
        + "</p><p>".join(paras[2:])
        + "</p></div></div><div class='foot'>版权所有</div></body></html>"
    )
    body = extract_body(parse_html(html), title="标题")
    assert (body.method, body.paragraphs) == ("run", paras)


def test_header_credit_next_to_the_date_line_is_not_text() -> None:
    html = (
        "<html><body><h1>全省政法工作会议召开</h1><div class='about'><p>澎湃新闻记者 刘名洋</p>"
        "<p>2023-06-12 09:27 来源:澎湃新闻</p></div><div class='txt'>"
        + "<br><br>".join([P1, P2, P3])
        + "</div></body></html>"
    )
    tree = parse_html(html)
    body = extract_body(tree, title="全省政法工作会议召开", lines=linearize(tree))
    assert body.paragraphs == [P1, P2, P3]
    assert body.lead_credits == ["澎湃新闻记者 刘名洋"]


def test_a_credit_line_opening_the_body_is_a_credit_not_text() -> None:
    html = (
        "<html><body><h1>全省政法工作会议召开</h1><div class='info'>2023-06-12 09:27</div>"
        "<div class='txt'><p>记者 周密 韩雪 报道</p><p>"
        + "</p><p>".join([P1, P2, P3])
        + "</p></div></body></html>"
    )
    tree = parse_html(html)
    body = extract_body(tree, title="全省政法工作会议召开", lines=linearize(tree))
    assert body.paragraphs == [P1, P2, P3]
    assert body.with_credits == ["记者 周密 韩雪 报道", P1, P2, P3]


def test_widget_prefix_and_link_rows() -> None:
    body = clean_lines([P1, P2, "【我要纠错】 责任编辑:刘亮"], anchors=frozenset({"首页", "新闻"}))
    assert (body.paragraphs, body.meta_lines) == ([P1, P2], ["责任编辑:刘亮"])
    body = clean_lines(["| 首页 \\| 新闻 |", P1], anchors=frozenset({"首页", "新闻"}))
    assert body.paragraphs == [P1]


def test_a_short_body_is_not_replaced_by_a_longer_block_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = "6月11日,全省政法工作会议召开。会议部署了今年重点任务。"
    notice = "本网站所刊登的信息仅供参考,转载请联系网站管理员,联系电话见页面底部说明文字。" * 4
    html = (
        f"<html><body><h1>全省政法工作会议召开</h1><div class='article'><p>{short}</p></div>"
        f"<div class='side'><p>{notice}</p><p>{notice}</p></div></body></html>"
    )
    # the extractor found only the short article; the densest block is the notice
    monkeypatch.setattr(extract_module, "run_trafilatura", lambda tree: [short])
    body = extract_body(parse_html(html), title="全省政法工作会议召开")
    assert body.paragraphs == [short]
    # when it found nothing, the run of prose after the headline is still the article
    monkeypatch.setattr(extract_module, "run_trafilatura", lambda tree: [])
    assert extract_body(parse_html(html)).paragraphs == [short]
    # and a page that holds only the notice gives the densest block: all there is
    only = f"<html><body><div class='side'><p>{notice}</p><p>{notice}</p></div></body></html>"
    assert extract_body(parse_html(only)).paragraphs == [notice, notice]


def test_spans_inside_a_sentence_do_not_break_it() -> None:
    a, b = (
        "6月11日,全省政法工作会议在省会召开。会议深入学习贯彻习近",
        "平法治思想,部署今年重点任务。",
    )
    sections = "".join(
        f"<section><span style='font-size:16px'>{a}</span><span>{b}</span></section>"
        "<section><br></section>"
        for _ in range(3)
    )
    html = f"<html><body><h2>标题</h2><div class='TRS_UEDITOR'>{sections}</div></body></html>"
    assert extract_body(parse_html(html), title="标题").paragraphs == [a + b] * 3


def test_a_photo_credit_with_copyright_sign_does_not_end_the_body() -> None:
    body = clean_lines([P1, "图为会议现场。©新华社", P2, P3, "Copyright © 2024 某某网 版权所有"])
    assert body.paragraphs == [P1, P2, P3]


def test_a_share_box_between_parts_does_not_end_the_body() -> None:
    body = clean_lines([P1, "分享到:", P2, P3, "京ICP备10000001号"])
    assert body.paragraphs == [P1, P2, P3]


def test_a_sentence_that_mentions_payment_is_not_a_paywall() -> None:
    lines = [P1, "群众在网上缴费,付费后即可在窗口领取证件,不用来回跑。", P2, P3]
    body = clean_lines(lines)
    assert (body.paragraphs, body.truncated) == (lines, False)


def test_the_signature_date_of_a_notice_stays() -> None:
    lines = ["2023-06-12 09:00", P1, P2, "渠县人民政府办公室", "2023年6月12日"]
    body = clean_lines(lines)
    assert body.paragraphs == [P1, P2, "渠县人民政府办公室", "2023年6月12日"]
    assert body.meta_lines == ["2023-06-12 09:00"]


def test_the_headline_with_its_subtitle_before_the_text_is_dropped() -> None:
    title = "全省政法工作会议召开"
    body = clean_lines(
        ["全省政法工作会议召开 ——部署今年重点任务", P1, "全省政法工作会议召开"], title=title
    )
    assert body.paragraphs == [P1]
    # a sentence that merely contains the headline words is text
    body = clean_lines([P1, "全省政法工作会议召开后,各地迅速传达学习会议精神。"], title=title)
    assert len(body.paragraphs) == 2


def test_a_chinese_numeral_date_line_is_not_body_text() -> None:
    assert is_info_line("二〇二一年四月八日")
    assert is_info_line("2021年4月8日 16:20")
    assert not is_info_line("二〇二一年四月八日,全市政法系统召开队伍教育整顿推进会,安排部署任务。")
