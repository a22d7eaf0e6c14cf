# ruff: noqa: E501  (page markup and article text: long lines are data)
"""Hanweb jpage list set-up, entries and ranges, from column pages written in Hanweb's style."""

from __future__ import annotations

import pytest

from crawler import jpage

PAGE = """<html><head><title>政策文件</title></head><body>
<div id="4578213"><script type="text/xml"><datastore>
<nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid=61&path=/&columnid=7764&unitid=33210&webname=%E6%9F%90%E5%B8%82%E4%BA%BA%E6%B0%91%E6%94%BF%E5%BA%9C&permissiontype=0"></a>]]></nextgroup>
<recordset>
<record><![CDATA[<li><a href="/art/2024/3/1/art_7764_1.html" title="关于做好春季农业生产工作的通知">关于做好春季农业生产工作的通知</a><span>2024-03-01</span></li>]]></record>
<record><![CDATA[<li><a href="/art/2024/2/26/art_7764_2.html">市政府办公室关于印发重点工作分工方案的通知</a><span>2024-02-26</span></li>]]></record>
</recordset></datastore></script></div>
<script language="javascript" src="/module/web/jpage/jpage.js"></script>
<script>$(document).ready(function(){ $('#4578213').jpage({ dataStore: dataStore, perPage: 20,
 totalRecord: 57, groupSize: 2, proxyUrl: '/module/web/jpage/dataproxy.jsp',
 ajaxParam: {col:1, appid:1, webid:61, path:'/', columnid:7764, sourceContentType:3, unitid:33210,
 webname:'某市人民政府', permissiontype:0} }); });</script></body></html>"""

URL = "http://www.example-city.gov.cn/col/col7764/index.html"


def scripts(html: str) -> str:
    from parsel import Selector

    return " ".join(Selector(text=html).css("script::text").getall())


def test_the_set_up_is_read_from_the_page_script() -> None:
    config = jpage.find_config(scripts(PAGE), URL)
    assert config is not None
    assert config.proxy_url == "http://www.example-city.gov.cn/module/web/jpage/dataproxy.jsp"
    assert config.formdata() == {
        "col": "1",
        "appid": "1",
        "webid": "61",
        "path": "/",
        "columnid": "7764",
        "sourceContentType": "3",
        "unitid": "33210",
        "webname": "某市人民政府",
        "permissiontype": "0",
    }
    assert (config.per_page, config.group_size, config.total, config.embedded) == (20, 2, 57, 2)
    assert config.request_url(3, 42).endswith("dataproxy.jsp?startrecord=3&endrecord=42&perpage=20")


def test_fields_from_the_nextgroup_query_when_the_script_has_no_ajax_param() -> None:
    bare = PAGE.split("ajaxParam")[0] + "}); });</script></body></html>"
    config = jpage.find_config(scripts(bare), URL)
    assert config is not None
    assert config.formdata()["columnid"] == "7764"
    assert config.formdata()["webname"] == "某市人民政府"
    assert "sourceContentType" not in config.formdata()


def test_entries_are_links_with_their_dates() -> None:
    sel = jpage.records_selector(PAGE)
    rows = sel.css("li")
    assert len(rows) == 2
    assert rows[0].css("a::attr(href)").get() == "/art/2024/3/1/art_7764_1.html"
    answer = "<datastore><totalrecord>57</totalrecord><recordset></recordset></datastore>"
    assert jpage.total_of(answer) == 57
    assert jpage.records(answer) == []


@pytest.mark.parametrize(
    ("fetched", "span"), [(2, (3, 42)), (42, (43, 57)), (57, None), (60, None)]
)
def test_ranges_follow_the_portal_block_size_up_to_the_total(
    fetched: int, span: tuple[int, int] | None
) -> None:
    config = jpage.find_config(scripts(PAGE), URL)
    assert config is not None
    assert jpage.next_range(config, fetched) == span


def test_a_page_without_jpage_has_no_set_up() -> None:
    assert (
        jpage.find_config("var countPage = 5; createPageHTML(5, 0, 'index', 'html');", URL) is None
    )
    # the loader named, but no column: not a list this module can load
    assert jpage.find_config("$('#a').jpage({perPage: 15});", URL) is None


def test_table_row_entries_keep_their_rows() -> None:
    answer = (
        "<datastore><recordset><record><![CDATA[<tr><td><a href='/art/2024/1/2/art_1_9.html'>"
        "关于开展安全生产检查的通知</a></td><td>2024-01-02</td></tr>]]></record></recordset></datastore>"
    )
    sel = jpage.records_selector(answer)
    assert sel.css("table tr td a::attr(href)").get() == "/art/2024/1/2/art_1_9.html"
