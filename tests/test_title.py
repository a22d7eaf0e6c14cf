"""The headline a reader sees above the body: one test per class of failure seen on real pages.

The pages are written for the tests in the styles that show each failure.
"""

from __future__ import annotations

import pytest
from pages import record_of

from pipelines.title import clean_title

HEADLINE = "全省政法工作会议召开 部署今年重点任务"
BODY = "".join(
    f"<p>{t}</p>"
    for t in (
        "6月11日,全省政法工作会议在省会召开。会议深入学习贯彻习近平法治思想,总结去年全省政法工作。",
        "会议指出,过去一年,全省政法机关坚持以人民为中心,深入推进平安建设、法治建设和过硬队伍建设。",
        "会议强调,要坚持稳中求进工作总基调,统筹发展和安全,着力防范化解重大风险,维护社会大局稳定。",
    )
)
SIDEBAR = (
    "<div class='side'>"
    + "".join(
        f"<div class='news-title'><a href='/s{i}'>某地召开第{i}次平安建设推进会强调抓基层</a></div>"
        for i in range(6)
    )
    + "</div>"
)


def title_of(html: str) -> str | None:
    return record_of(html, "http://www.example.cn/2023/06/12/a.html").title


def test_a_headline_in_a_plain_heading_above_the_info_line_beats_sidebar_titles() -> None:
    html = (
        f"<html><head><title>{HEADLINE}_某某网</title></head><body>{SIDEBAR}"
        f"<h3>{HEADLINE}</h3><div class='share'>分享到:</div>"
        "<div class='time'>2023-06-12 09:27 字号:A- A A+ 来源:某某日报</div>"
        f"<div class='content'>{BODY}</div></body></html>"
    )
    assert title_of(html) == HEADLINE


def test_a_site_banner_in_h1_is_not_the_headline() -> None:
    html = (
        "<html><head><title>今日要闻--全省政法工作会议召开 部署今年重点任务</title></head><body>"
        "<h1>今日要闻_政法动态_法治新闻_平安建设 - 某某网,权威政法资讯网站</h1>"
        "<div class='crumb'>当前位置:主页 > 政法动态 ></div>"
        f"<div class='title-text'>{HEADLINE}</div>"
        "<div class='meta'>发布时间: 2023-06-12 10:09:11</div>"
        f"<div class='art'>{BODY}</div></body></html>"
    )
    assert title_of(html) == HEADLINE


def test_a_breadcrumb_heading_is_not_the_headline() -> None:
    html = (
        "<html><head><title>新闻动态--某某学会官网</title></head><body>"
        f"<h3>首页 - 新闻动态</h3><h5>{HEADLINE}</h5>"
        "<div class='ly'>发布时间:2023-06-12 来源:某某学会</div>"
        f"{BODY}</body></html>"
    )
    assert title_of(html) == HEADLINE


def test_a_subtitle_under_the_headline_is_not_part_of_it() -> None:
    html = (
        f"<html><head><title>{HEADLINE}_某某网</title></head><body><h1>{HEADLINE}</h1>"
        "<h2>——记全省政法系统先进集体</h2><div class='info'>2023-06-12 来源:某某日报</div>"
        f"<div class='content'>{BODY}</div></body></html>"
    )
    assert title_of(html) == HEADLINE


@pytest.mark.parametrize(
    ("shown", "headline"),
    [
        ("凝聚奋进力量<div>——写在全省政法工作会议召开之际</div>", "凝聚奋进力量"),
        ("全 省 政 法 工 作 会 议 召 开", "全省政法工作会议召开"),
        ("多地项目连环爆雷 狂奔的龙湖集团", "多地项目连环爆雷 狂奔的龙湖集团"),
        ("运营商 5G 手机促销方式曝光", "运营商 5G 手机促销方式曝光"),
    ],
)
def test_markup_shown_as_text_and_spaced_out_characters(shown: str, headline: str) -> None:
    assert clean_title(shown) == headline
