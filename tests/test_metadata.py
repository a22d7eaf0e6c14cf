"""Bylines, names, dates and titles (pipelines.metadata) on the forms portals use."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipelines.byline import body_credits, clean_name, parse_byline, parse_credit, parse_names
from pipelines.dates import date_from_url, find_date, parse_fetched, parse_iso
from pipelines.dom import linearize, parse_html
from pipelines.metadata import extract_metadata, meta_tags
from pipelines.title import extract_title

FETCHED = parse_fetched("2024-05-20T15:00:00+08:00")


# --- Bylines --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "source", "authors", "editors", "resp"),
    [
        # run together, no separators (seed 000)
        (
            "2022-07-15 10:12:31来源:辽宁日报编辑:王巍责编:李胜兰",
            "辽宁日报",
            [],
            ["王巍"],
            ["李胜兰"],
        ),
        # spaces, empty 作者 (seed 004)
        ("来源:渠县政法委 作者: 发布时间:2021-09-02 17:33:01", "渠县政法委", [], [], []),
        # pipes, a job title before the name (seed 003)
        (
            "来源:辽宁法制报 | 作者:驻省委政法委首席记者 白国军 | 发布时间: 2020-07-16 08:45",
            "辽宁法制报",
            ["白国军"],
            [],
            [],
        ),
        # bullets, empty 来源
        ("• 时间:2020-06-23 11:12 • 来源: • 作者:黄莎", None, ["黄莎"], [], []),
        ("作者: 发布时间:2021-01-01", None, [], [], []),
        # several names, 、 , ; and spaces
        ("作者:张伟、李娜", None, ["张伟", "李娜"], [], []),
        ("记者:王琦 刘旸 通讯员:赵蕾", None, ["王琦", "刘旸", "赵蕾"], [], []),
        ("作者:张三,李四;王五", None, ["张三", "李四", "王五"], [], []),
        # 稿源 / 出处 / 信息来源 / 网络编辑 / 编辑人
        ("稿源:法制日报 网络编辑:王敏", "法制日报", [], ["王敏"], []),
        ("出处:人民法院报 编辑人:刘芳", "人民法院报", [], ["刘芳"], []),
        ("信息来源:湖州市委政法委  作者:沈佳  浏览次数:236", "湖州市委政法委", ["沈佳"], [], []),
        # reviewers: 审核 / 二审 / 三审 are responsible editors, 一审 an editor, 校对 ignored
        ("一审:张丽 二审:王强 三审:李建国", None, [], ["张丽"], ["王强", "李建国"]),
        ("审核:刘强 校对:陈静", None, [], [], ["刘强"]),
        ("责任编辑:李位川", None, [], [], ["李位川"]),
        ("(责编:王五、赵六)", None, [], [], ["王五", "赵六"]),
        ("【责任编辑:冯家顺】", None, [], [], ["冯家顺"]),
        # affiliation glued to the name
        ("作者:本报记者 张天培", None, ["张天培"], [], []),
        ("作者:本报记者张天培", None, ["张天培"], [], []),
        # a source is not a name; an organisation in 作者 is dropped
        ("来源:新华网 作者:县委政法委", "新华网", [], [], []),
        ("来源:人民网-人民日报 2023年06月12日08:21", "人民网-人民日报", [], [], []),
        ("发布时间:2021-11-18 【字体:大 中 小】", None, [], [], []),
    ],
)
def test_parse_byline(
    line: str, source: str | None, authors: list[str], editors: list[str], resp: list[str]
) -> None:
    b = parse_byline(line)
    assert (b.source, b.authors, b.editors, b.responsible_editors) == (
        source,
        authors,
        editors,
        resp,
    )


@pytest.mark.parametrize(
    ("token", "name"),
    [
        ("驻省委政法委首席记者", None),
        ("白国军", "白国军"),
        ("辽宁日报记者杨忠厚", "杨忠厚"),
        ("大理州人民政府", None),
        ("渠县政法委", None),
        ("佚名", None),
        ("admin", None),
        ("买买提·艾力", "买买提·艾力"),
        ("陈䶮", "陈䶮"),
        ("王五摄", "王五"),
        ("Zhang Wei", "Zhang Wei"),
    ],
)
def test_clean_name(token: str, name: str | None) -> None:
    assert clean_name(token) == name


def test_parse_names_drops_titles_and_deduplicates() -> None:
    assert parse_names("驻省委政法委首席记者 白国军 白国军") == ["白国军"]
    assert parse_names("") == []
    assert parse_names(None) == []


@pytest.mark.parametrize(
    ("credit", "authors", "editors"),
    [
        ("辽宁日报记者 杨忠厚", ["杨忠厚"], []),
        ("记者 张三 通讯员 李四", ["张三", "李四"], []),
        ("记者张天培、徐隽", ["张天培", "徐隽"], []),
        ("记者 王五 摄影 赵六", ["王五"], []),
        ("记者 周密 编辑 韩雪", ["周密"], ["韩雪"]),
    ],
)
def test_parse_credit(credit: str, authors: list[str], editors: list[str]) -> None:
    found = parse_credit(credit)
    assert (found.authors, found.editors) == (authors, editors)


@pytest.mark.parametrize(
    ("paragraphs", "authors"),
    [
        (["正文第一段。", "会议以电视电话会议形式召开。(辽宁日报记者 杨忠厚)"], ["杨忠厚"]),
        (["本报讯(记者 张三 通讯员 李四)5月31日,会议召开。", "第二段。"], ["张三", "李四"]),
        (["新华社北京4月18日电(记者 王琦 刘旸)记者18日获悉。", "第二段。"], ["王琦", "刘旸"]),
        (["文/图 王五", "正文。"], ["王五"]),
        (["记者 张三 李四 报道", "正文。"], ["张三", "李四"]),
        (["正文。", "(完)"], []),
        # a parenthesis that is not a credit, and a date in the body: nothing
        (["会议要求(市、县、区)各单位落实。", "7月14日,会议召开。"], []),
    ],
)
def test_body_credits(paragraphs: list[str], authors: list[str]) -> None:
    assert body_credits(paragraphs).authors == authors


# --- Dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2020-07-16 08:45", "2020-07-16T08:45:00+08:00"),
        ("2020-07-16 08:45:12", "2020-07-16T08:45:12+08:00"),
        ("2020/7/16", "2020-07-16"),
        ("2020.07.16", "2020-07-16"),
        ("2020年7月16日 08:45", "2020-07-16T08:45:00+08:00"),
        ("2020年07月16日08:45", "2020-07-16T08:45:00+08:00"),
        ("发布时间:2020-07-16", "2020-07-16"),
        ("时间:2020年7月16日", "2020-07-16"),
        ("日期:2020-7-6", "2020-07-06"),
        ("发布日期:二〇二〇年七月十六日", "2020-07-16"),
        ("二〇一九年十二月三日", "2019-12-03"),
        ("二〇二〇年十月三十一日", "2020-10-31"),
        ("[2023-04-18 10:21:32]", "2023-04-18T10:21:32+08:00"),
    ],
)
def test_find_date_absolute(text: str, value: str) -> None:
    found = find_date(text, FETCHED)
    assert found is not None
    assert (found.value, found.relative, found.invalid) == (value, False, False)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3小时前", "2024-05-20T12:00:00+08:00"),
        ("25分钟前", "2024-05-20T14:35:00+08:00"),
        ("2天前", "2024-05-18"),
        ("昨天 10:20", "2024-05-19T10:20:00+08:00"),
        ("前天", "2024-05-18"),
        ("今天 09:05", "2024-05-20T09:05:00+08:00"),
        ("刚刚", "2024-05-20T15:00:00+08:00"),
        ("05-18 09:30", "2024-05-18T09:30:00+08:00"),
        ("5月18日 09:30", "2024-05-18T09:30:00+08:00"),
        # later in the year than the crawl: last year's
        ("12月30日", "2023-12-30"),
    ],
)
def test_find_date_relative(text: str, value: str) -> None:
    found = find_date(text, FETCHED)
    assert found is not None
    assert (found.value, found.relative) == (value, True)


@pytest.mark.parametrize("text", ["2021-13-45", "2021-02-30", "2035-01-01 10:00", "1985-05-01"])
def test_impossible_dates_are_invalid(text: str) -> None:
    found = find_date(text, FETCHED)
    assert found is not None
    assert (found.value, found.invalid) == (None, True)


@pytest.mark.parametrize("text", ["2020年", "Copyright 2004-2024", "第2020号", "共计2020人"])
def test_not_dates(text: str) -> None:
    assert find_date(text, FETCHED) is None


def test_relative_forms_are_not_read_when_not_allowed() -> None:
    assert find_date("今天,我们召开会议", FETCHED, relative=False) is None
    assert find_date("7月14日,会议召开", FETCHED, relative=False) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-04-18T10:21:32+08:00", "2023-04-18T10:21:32+08:00"),
        ("2023-04-01T02:30:00Z", "2023-04-01T02:30:00+00:00"),
        ("2023-04-01T02:30:00", "2023-04-01T02:30:00+08:00"),
        ("2022-05-10 16:20", "2022-05-10T16:20:00+08:00"),
        ("2022-05-10", "2022-05-10"),
    ],
)
def test_parse_iso_meta_values(value: str, expected: str) -> None:
    found = parse_iso(value, FETCHED)
    assert found is not None
    assert found.value == expected


@pytest.mark.parametrize(
    ("url", "day"),
    [
        ("http://www.gdzf.org.cn/zwgd/202303/t20230308_1098765.html", "2023-03-08"),
        ("http://www.news.cn/legal/2023-04/18/c_1129532155.htm", "2023-04-18"),
        ("https://news.cri.cn/20220715/b8f2c3a0.html", "2022-07-15"),
        ("http://legal.people.com.cn/n1/2023/0612/c42510-40011234.html", "2023-06-12"),
        ("http://www.lncaw.gov.cn/system/2020/07/16/030123456.shtml", "2020-07-16"),
        ("http://sfj.linyi.gov.cn/art/2022/5/10/art_12_345.html", "2022-05-10"),
        ("http://x.cn/news/show.asp?id=20200716", None),
        ("http://x.cn/202013/t20201345_1.html", None),
    ],
)
def test_date_from_url(url: str, day: str | None) -> None:
    assert date_from_url(url, FETCHED) == day


# --- Titles ---------------------------------------------------------------------------


def _title(html: str, site_name: str | None = None) -> str | None:
    tree = parse_html(html)
    return extract_title(tree, meta_tags(tree), None, site_name)


def test_title_strips_site_suffixes() -> None:
    assert _title("<title>我州召开推进会_大理州人民政府</title><p>x</p>") == "我州召开推进会"
    assert _title("<title>国新办介绍情况 - 国际在线</title><p>x</p>") == "国新办介绍情况"
    assert _title("<title>大理州人民政府 | 标题在后面的页面</title>", "大理州人民政府") == (
        "标题在后面的页面"
    )


def test_title_by_agreement_ignores_a_logo_h1() -> None:
    html = (
        "<html><head><title>于天敏赴本溪市调研工作_辽宁长安网</title></head><body>"
        "<h1>辽宁长安网</h1><h2 class='content_title'>于天敏赴本溪市调研工作</h2></body></html>"
    )
    assert _title(html) == "于天敏赴本溪市调研工作"


def test_title_prefers_the_h1_when_title_is_the_site_name() -> None:
    html = "<title>某某县人民政府</title><h1>县委政法委召开平安建设推进会</h1>"
    assert _title(html) == "县委政法委召开平安建设推进会"


def test_title_from_meta_article_title() -> None:
    html = (
        "<html><head><meta name='ArticleTitle' content='全市矛盾纠纷多元化解工作现场会召开'>"
        "<title>湖州政法网</title></head><body><td class='title'>全市矛盾纠纷多元化解工作现场会召开"
        "</td></body></html>"
    )
    assert _title(html) == "全市矛盾纠纷多元化解工作现场会召开"


def test_title_selector_overrides() -> None:
    html = (
        "<title>标题一号很长_站名</title><h1>标题一号很长</h1><h2 class='bt'>选择器指定的标题</h2>"
    )
    tree = parse_html(html)
    assert extract_title(tree, {}, {"title": "h2.bt"}) == "选择器指定的标题"
    # a selector that matches nothing or does not parse falls back to the heuristics
    assert extract_title(tree, {}, {"title": "h3.none"}) == "标题一号很长"
    assert extract_title(tree, {}, {"title": "h2..bad"}) == "标题一号很长"


# --- Whole pages ------------------------------------------------------------------------


def _meta(html: str, url: str = "http://x.cn/a.html", fetched: str = "2024-05-20T15:00:00+08:00"):
    tree = parse_html(html)
    return extract_metadata(tree, url=url, fetched_at=fetched, lines=linearize(tree))


def test_info_line_after_the_title_and_meta_fallbacks() -> None:
    md = _meta(
        "<html><head><meta name='ContentSource' content='临沂市司法局'>"
        "<meta name='PubDate' content='2022-05-10 16:20'><meta name='Author' content='刘洋'>"
        "<title>推进会召开</title></head><body><h1>全市推进会召开</h1>"
        "<div>浏览次数:88</div><p>正文很长的一段文字。</p></body></html>"
    )
    assert (md.published_at, md.source, md.authors) == (
        "2022-05-10T16:20:00+08:00",
        "临沂市司法局",
        ["刘洋"],
    )


def test_meta_author_that_is_an_organisation_is_ignored() -> None:
    md = _meta(
        "<html><head><meta name='author' content='大理州人民政府'></head><body>"
        "<h1>标题文字足够长</h1><p>正文。</p></body></html>"
    )
    assert md.authors == []


def test_copyright_year_and_body_dates_are_not_publish_dates() -> None:
    md = _meta(
        "<html><body><h1>县司法局开展案卷评查</h1>"
        "<p>为进一步规范行政执法行为,2023年5月12日至6月1日县司法局组织开展评查。"
        + "评查"
        * 80
        + "</p>"
        "<div class='foot'>Copyright © 2019-2024 版权所有</div></body></html>",
        url="http://x.cn/news/show.asp?id=1",
    )
    assert md.published_at is None
    assert md.flags == ["no_date"]


def test_date_from_url_is_flagged() -> None:
    md = _meta("<h1>标题标题标题</h1><p>正文。</p>", url="http://x.cn/a/202103/t20210305_1.html")
    assert (md.published_at, md.flags) == ("2021-03-05", ["date_from_url"])


def test_invalid_date_is_not_replaced_by_the_url() -> None:
    md = _meta(
        "<h1>标题标题标题</h1><div>发布时间:2021-13-45</div><p>正文。</p>",
        url="http://x.cn/a/202103/t20210305_1.html",
    )
    assert (md.published_at, md.flags) == (None, ["date_invalid"])


def test_meta_time_refines_a_visible_day() -> None:
    md = _meta(
        "<html><head><meta property='article:published_time' content='2023-04-18T10:21:32+08:00'>"
        "</head><body><h1>标题标题标题</h1><div>2023-04-18</div><p>正文。</p></body></html>"
    )
    assert md.published_at == "2023-04-18T10:21:32+08:00"


def test_visible_date_wins_over_a_different_meta_date() -> None:
    md = _meta(
        "<html><head><meta name='PubDate' content='2023-04-20 09:00'></head><body>"
        "<h1>标题标题标题</h1><div>发布时间:2023-04-18 10:00</div><p>正文。</p></body></html>"
    )
    assert md.published_at == "2023-04-18T10:00:00+08:00"


def test_relative_date_in_the_info_line() -> None:
    md = _meta(
        "<h1>标题标题标题</h1><div><span>平安北京</span> <span>3小时前</span></div><p>正文。</p>"
    )
    assert (md.published_at, md.flags) == ("2024-05-20T12:00:00+08:00", ["date_relative"])


def test_body_sentence_starting_with_today_is_not_a_date() -> None:
    md = _meta(
        "<h1>全省市域社会治理现代化工作会议讲话</h1><p>同志们:</p>"
        "<p>今天,我们召开全省市域社会治理现代化推进会,主要任务是深入学习贯彻精神。</p>",
        url="https://x.cn/jianghua/88213.html",
    )
    assert (md.published_at, md.flags) == (None, ["no_date"])


def test_run_together_spans_and_credit_in_body() -> None:
    html = (
        "<h1>辽宁省社会治理工作会议召开</h1><div class='info'><span>2022-07-15 10:12:31</span>"
        "<span>来源:<a>辽宁日报</a></span><span>编辑:王巍</span><span>责编:李胜兰</span></div>"
        "<p>正文。</p>"
    )
    tree = parse_html(html)
    md = extract_metadata(
        tree,
        url="https://x.cn/a.html",
        fetched_at=None,
        lines=linearize(tree),
        paragraphs=["正文。", "会议召开。(辽宁日报记者 杨忠厚)"],
    )
    assert (md.published_at, md.source, md.authors, md.editors, md.responsible_editors) == (
        "2022-07-15T10:12:31+08:00",
        "辽宁日报",
        ["杨忠厚"],
        ["王巍"],
        ["李胜兰"],
    )
    assert md.has_byline


def test_now_is_used_when_fetched_at_is_missing() -> None:
    assert parse_fetched(None).tzinfo is not None
    assert parse_fetched("garbage").year >= 2024
    assert parse_fetched("2020-01-01T00:00:00").utcoffset() is not None
    assert isinstance(parse_fetched("2020-01-01T00:00:00+08:00"), datetime)


def test_split_xinhua_date_and_unlabelled_credit_line() -> None:
    md = _meta(
        "<h1>全国公安机关深入推进夏季治安打击整治行动</h1>"
        "<div class='header-time'><span class='year'><em> 2023</em></span>"
        "<span class='day'><em> 04</em>/<em>18</em></span><span class='time'> 10:21:32</span></div>"
        "<p class='author'>澎湃新闻记者 张三 通讯员 李四</p>"
        "<p>记者18日从公安部获悉,今年以来,全国公安机关深入推进夏季治安打击整治行动。</p>"
    )
    assert (md.published_at, md.authors) == ("2023-04-18T10:21:32+08:00", ["张三", "李四"])


def test_names_with_a_parenthesised_note() -> None:
    assert parse_names("张三(实习生) 李四(XX大学法学院教授)") == ["张三", "李四"]


def test_info_line_found_above_the_body_when_the_title_is_not_on_the_page() -> None:
    tree = parse_html(
        "<html><head><title>完全不同的标题文字</title></head><body><div>导航</div>"
        "<div class='time'>2023-06-12 09:27</div><div>来源:法治日报</div>"
        "<p>6月11日,全省政法工作会议召开,会议总结了工作。</p></body></html>"
    )
    md = extract_metadata(
        tree,
        url="http://x.cn/a.html",
        fetched_at=None,
        lines=linearize(tree),
        paragraphs=["6月11日,全省政法工作会议召开,会议总结了工作。"],
        title="页面上没有的标题",
    )
    assert (md.published_at, md.source) == ("2023-06-12T09:27:00+08:00", "法治日报")


def test_original_title_outside_the_body() -> None:
    md = _meta(
        "<h1>标题标题标题</h1><div class='yt'>原标题:全省社会治理工作会议召开</div><p>正文。</p>"
    )
    assert md.original_title == "全省社会治理工作会议召开"


def test_a_labelled_date_inside_the_body_is_not_the_publish_date() -> None:
    html = (
        "<h1>关于召开全县综治工作会议的通知</h1><div class='info'>来源:县委政法委</div>"
        "<p>各乡镇、县直各单位:</p><p>时间:2023年5月12日 地点:县会议中心</p>"
        "<p>发布日期:2023年5月10日</p><p>经研究,定于近期召开全县综治工作会议,请准时参加。</p>"
    )
    tree = parse_html(html)
    md = extract_metadata(
        tree,
        url="http://x.cn/show.asp?id=1",
        fetched_at="2024-05-20T15:00:00+08:00",
        lines=linearize(tree),
        paragraphs=[
            "各乡镇、县直各单位:",
            "时间:2023年5月12日 地点:县会议中心",
            "发布日期:2023年5月10日",
            "经研究,定于近期召开全县综治工作会议,请准时参加。",
        ],
        title="关于召开全县综治工作会议的通知",
    )
    assert (md.published_at, md.flags) == (None, ["no_date"])


def test_padded_two_character_names_and_credits_inside_the_source() -> None:
    assert parse_names("王 伟 李 娜") == ["王伟", "李娜"]
    assert parse_byline("来源:新华社 记者 张三").authors == ["张三"]
    assert parse_byline("来源:新华社 记者 张三").source == "新华社"


def test_publish_label_wins_over_an_update_time() -> None:
    md = _meta(
        "<h1>标题标题标题</h1><div>更新时间:2023-06-13 08:00 发布时间:2023-06-12 09:00</div>"
        "<p>正文。</p>"
    )
    assert md.published_at == "2023-06-12T09:00:00+08:00"


def test_interview_lines_in_the_body_are_not_bylines() -> None:
    html = "<h1>专访:谈社会治理现代化</h1><div>2023-06-12</div><p>记者:好的</p><p>受访者:谢谢。</p>"
    tree = parse_html(html)
    md = extract_metadata(
        tree,
        url="http://x.cn/a.html",
        fetched_at=None,
        lines=linearize(tree),
        paragraphs=["记者:好的", "受访者:谢谢。"],
        title="专访:谈社会治理现代化",
    )
    assert md.authors == []


def test_the_header_today_widget_is_not_the_publish_date() -> None:
    md = _meta(
        "<div class='top'>今天是:2024年5月20日 星期一</div><div>欢迎访问</div>"
        "<h1>县委政法委召开平安建设推进会</h1><p>会议指出,要扎实推进平安建设。</p>",
        url="http://x.cn/show.asp?id=1",
    )
    assert (md.published_at, md.flags) == (None, ["no_date"])


def test_site_name_glued_with_a_hyphen() -> None:
    assert (
        _title("<title>渠县召开社会治理形势分析会-四川法制网</title><p>x</p>")
        == "渠县召开社会治理形势分析会"
    )
    assert _title("<title>2023-2024学年工作总结</title><p>x</p>") == "2023-2024学年工作总结"


@pytest.mark.parametrize("token", ["央视网消息", "综合整理", "据新华社", "图片来源", "网络编译"])
def test_not_person_names(token: str) -> None:
    assert clean_name(token) is None


def test_unlabelled_source_and_author_from_element_names() -> None:
    md = _meta(
        "<h1>全省政法工作会议召开</h1><div class='top-bar'>"
        "<span class='date'>2023年06月12日 09:15</span>"
        "<a class='source' href='http://x.cn'>法治日报</a><span class='author'>张晓东</span></div>"
        "<p>6月11日,全省政法工作会议在省会召开。</p>"
    )
    assert (md.published_at, md.source, md.authors) == (
        "2023-06-12T09:15:00+08:00",
        "法治日报",
        ["张晓东"],
    )


def test_an_empty_label_is_not_filled_from_element_names() -> None:
    md = _meta(
        "<h1>全省政法工作会议召开</h1><div class='info'>来源: 作者:</div>"
        "<div class='source'>某某网</div><p>6月11日,全省政法工作会议在省会召开。</p>"
    )
    assert (md.source, md.authors) == (None, [])


def test_a_date_in_a_source_element_is_not_the_source_and_credits_name_everyone() -> None:
    html = (
        "<html><head><meta name='ContentSource' content='某某日报'>"
        "<meta name='Author' content='张三'>"
        "<meta name='PubDate' content='2021-04-08 16:20'><title>全市政法系统召开推进会</title>"
        "</head><body><div class='title'>全市政法系统召开推进会</div>"
        "<div class='source'>二〇二一年四月八日</div><div id='zoom'>"
        "<p>本报讯(记者 张三 通讯员 李四)4月8日,全市政法系统召开推进会,安排部署下一阶段任务。</p>"
        "<p>会议强调,要以更高标准、更严要求推进查纠整改,建立健全长效机制。</p></div></body></html>"
    )
    tree = parse_html(html)
    paragraphs = [
        "本报讯(记者 张三 通讯员 李四)4月8日,全市政法系统召开推进会,安排部署下一阶段任务。",
        "会议强调,要以更高标准、更严要求推进查纠整改,建立健全长效机制。",
    ]
    md = extract_metadata(
        tree,
        url="http://x.gov.cn/art/2021/4/8/art_1_2.html",
        fetched_at="2021-04-09T08:00:00+08:00",
        lines=linearize(tree),
        paragraphs=paragraphs,
    )
    assert md.source == "某某日报"  # the element named "source" holds only a date
    assert md.authors == ["张三", "李四"]  # the meta tag names only the first
    assert md.published_at == "2021-04-08T16:20:00+08:00"
