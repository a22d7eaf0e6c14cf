"""The date table (pipelines.dates): every printed form, and dates on real page layouts."""

from __future__ import annotations

import pytest

from pipelines.dates import DATE_FORMS, date_form, find_date, parse_fetched
from pipelines.dom import linearize, parse_html
from pipelines.metadata import extract_metadata

FETCHED = parse_fetched("2024-05-20T15:00:00+08:00")

# One example per row of the table, with what it reads to and at which precision.
EXAMPLES = {
    "digits": ("发布时间:2024-05-18 09:30", "2024-05-18T09:30:00+08:00", "minute"),
    "split": ("2023 06/12 08:15", "2023-06-12T08:15:00+08:00", "minute"),
    "chinese": ("二〇二三年十二月九日", "2023-12-09", "day"),
    "short-year": ("发布时间:18-03-08 23:16", "2018-03-08T23:16:00+08:00", "minute"),
    "month-day": ("5月3日 10:20", "2024-05-03T10:20:00+08:00", "minute"),
    "dash-month-day": ("12-30 10:20", "2023-12-30T10:20:00+08:00", "minute"),
    "ago": ("3小时前", "2024-05-20T12:00:00+08:00", "minute"),
    "now": ("刚刚", "2024-05-20T15:00:00+08:00", "minute"),
    "day-word": ("昨天 10:20", "2024-05-19T10:20:00+08:00", "minute"),
}


def test_every_form_of_the_table_has_an_example() -> None:
    assert {form.name for form in DATE_FORMS} == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_form_reads_its_example(name: str) -> None:
    text, value, precision = EXAMPLES[name]
    form = date_form(text)
    assert form is not None
    assert form.name == name
    found = find_date(text, FETCHED)
    assert found is not None
    assert (found.value, found.precision) == (value, precision)
    assert found.relative == form.relative


@pytest.mark.parametrize("name", sorted(f.name for f in DATE_FORMS if f.relative))
def test_relative_forms_are_skipped_outside_info_lines(name: str) -> None:
    assert find_date(EXAMPLES[name][0], FETCHED, relative=False) is None


def test_month_day_and_time_glued_by_the_markup() -> None:
    found = find_date("发布时间:10-0812:00", FETCHED)
    assert found is not None
    assert (found.value, found.year_less) == ("2023-10-08T12:00:00+08:00", True)


# --- The publish date of whole pages ----------------------------------------------------

TEXT = "<p>5月18日,某市召开社会治理工作推进会议,部署下一阶段重点工作任务。</p>"


def _date(head: str, body: str, url: str = "http://x.cn/a.html") -> tuple[str | None, list[str]]:
    tree = parse_html(f"<html><head>{head}</head><body>{body}</body></html>")
    lines = linearize(tree)
    md = extract_metadata(
        tree,
        url=url,
        fetched_at="2024-05-20T15:00:00+08:00",
        lines=lines,
        paragraphs=[ln.text for ln in lines if ln.owner.tag == "p"],
    )
    return md.published_at, md.flags


H1 = "<h1>某市召开社会治理工作推进会议</h1>"


def test_a_date_without_its_year_takes_the_year_of_a_meta_date_of_that_day() -> None:
    head = "<meta itemprop='dateUpdate' content='2019-10-08 12:00:57'>"
    body = H1 + "<div>发布时间:<span>10-08</span><span>12:00</span></div>" + TEXT
    assert _date(head, body) == ("2019-10-08T12:00:00+08:00", [])


def test_a_year_less_date_keeps_its_guess_when_no_other_date_agrees() -> None:
    head = "<meta itemprop='dateUpdate' content='2019-10-09 12:00:57'>"
    body = H1 + "<div>发布时间:10-08 12:00</div>" + TEXT
    assert _date(head, body) == ("2023-10-08T12:00:00+08:00", ["date_relative"])


def test_a_relative_date_gives_way_to_the_page_s_own_date() -> None:
    script = '<script>var ct = "1581418070";</script>'  # 2020-02-11 18:47:50 China time
    body = H1 + "<div>前天</div>" + TEXT + script
    assert _date("", body) == ("2020-02-11T18:47:50+08:00", [])


def test_a_relative_date_alone_is_read_against_the_crawl_time() -> None:
    assert _date("", H1 + "<div>前天 10:20</div>" + TEXT) == (
        "2024-05-18T10:20:00+08:00",
        ["date_relative"],
    )


def test_publish_time_in_json_ld() -> None:
    script = (
        "<script type='application/ld+json'>"
        '{"@type": "NewsArticle", "datePublished": "2021-06-01T08:30:00+08:00"}</script>'
    )
    assert _date(script, H1 + TEXT) == ("2021-06-01T08:30:00+08:00", [])


def test_a_time_shown_alone_takes_its_day_from_another_date_of_the_page() -> None:
    head = "<meta name='apub:time' content='2019-9-7 21:30:50'>"
    assert _date(head, H1 + "<div class='time'>19:02</div>" + TEXT) == (
        "2019-09-07T19:02:00+08:00",
        [],
    )
    # with the URL's day when no tag has one
    url = "http://x.cn/2019/0907/a.html"
    assert _date("", H1 + "<div>19:02</div>" + TEXT, url) == ("2019-09-07T19:02:00+08:00", [])


@pytest.mark.parametrize(
    "footer",
    ["发表于 2005-07-31 10:20 | 阅读(12)", "posted @ 2005-07-31 10:20 某某 阅读(3) 评论(0)"],
)
def test_a_blog_date_after_the_text(footer: str) -> None:
    body = H1 + TEXT + f"<div class='postfoot'>{footer}</div>"
    assert _date("", body) == ("2005-07-31T10:20:00+08:00", [])


def test_the_minute_next_to_the_date_is_kept() -> None:
    body = H1 + "<div><span>2019年09月11日</span><span>01:53</span> 某某科技</div>" + TEXT
    assert _date("", body)[0] == "2019-09-11T01:53:00+08:00"


def test_a_utc_meta_time_refines_the_day_the_page_shows_in_china_time() -> None:
    head = "<meta property='article:published_time' content='2019-09-06T16:10:00Z'>"
    body = H1 + "<div>2019-09-07</div>" + TEXT
    assert _date(head, body) == ("2019-09-07T00:10:00+08:00", [])


def test_date_and_time_on_lines_of_their_own() -> None:
    body = H1 + "<div>2019-09-24</div><div>09:10</div>" + TEXT
    assert _date("", body)[0] == "2019-09-24T09:10:00+08:00"


def test_a_relative_date_gives_way_to_the_date_of_the_page_s_own_item_in_its_state() -> None:
    """An app's embedded state lists related articles (each with its own date) below the
    page's own item: the publish key nearest the top is the page's, whatever the order."""
    state = (
        "<script>\n window.__INITIAL_STATE__ = {"
        '"routing": {"path": "/topic/1"}, "topicDetail": {"data": {'
        '"newsArray": [{"title": "a", "publishDate": "2019-09-07T05:51:23.000Z"},'
        ' {"title": "b", "publishDate": "2019-09-07T10:29:27.000Z"}],'
        '"createdAt": "2019-09-07T08:29:41.278Z",'
        '"publishDate": "2019-09-07T00:31:40.109Z", "summary": "…"}}};\n</script>'
    )
    body = H1 + "<div>昨天</div>" + TEXT + state
    assert _date("", body) == ("2019-09-07T00:31:40+00:00", [])  # the record says +08:00


@pytest.mark.parametrize(
    ("script", "value"),
    [
        # epoch milliseconds and seconds, as numbers or digit strings
        ('var data = {"article": {"publishTime": 1581517074000}};', "2020-02-12T22:17:54+08:00"),
        ('window.s = {"item": {"pubDate": "1581517074"}}', "2020-02-12T22:17:54+08:00"),
        # a JSON-LD list: the article's datePublished, not a nested review's
        (
            '[{"@type": "NewsArticle", "datePublished": "2021-06-01T08:30:00+08:00",'
            ' "review": {"datePublished": "2022-01-01T00:00:00+08:00"}}]',
            "2021-06-01T08:30:00+08:00",
        ),
        # a date after the crawl is skipped for the next one at the same depth
        (
            'x = {"a": {"publishDate": "2030-01-01T00:00:00Z"}, '
            '"b": {"publish_time": "2024-05-01 09:00:00"}}',
            "2024-05-01T09:00:00+08:00",
        ),
    ],
)
def test_publish_dates_read_from_a_script_s_json_state(script: str, value: str) -> None:
    from pipelines.dates import script_date

    found = script_date([script], FETCHED)
    assert found is not None
    assert found.value == value


def test_a_state_that_is_not_json_falls_back_to_the_script_variables() -> None:
    from pipelines.dates import script_date, state_date

    literal = "var page = {title: '某某', publishDate: new Date(2020, 1, 2)};"
    assert state_date(literal, FETCHED) is None
    assert script_date([literal], FETCHED) is None
    mixed = 'var cfg = {a: 1}; var ct = "1581418070";'  # JavaScript, then WeChat's variable
    found = script_date([mixed], FETCHED)
    assert found is not None
    assert found.value == "2020-02-11T18:47:50+08:00"
    assert state_date('{"publishDate": "someday"}', FETCHED) is None
    assert state_date('{"publishDate": true, "x": [1, 2]}', FETCHED) is None
