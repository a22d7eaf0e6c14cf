"""The origin rule: cited by another copy, else earliest published, else first seen."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.dedup.origin import (
    better_origin,
    cited,
    compare,
    normalize_name,
    portal_names,
    winner,
)
from crawler.portals import load_portals, seeds_dir_from_settings

NAMES = {
    "cri": {"国际在线", "国际在线辽宁频道"},
    "lnzf": {"辽宁长安网"},
    "scfzw": {"四川法制网"},
    "dali": {"大理白族自治州人民政府", "大理州人民政府"},
}


def rec(site: str, published: str | None, source: str | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "id": kw.pop("id", f"{site}-id"),
        "site": site,
        "site_name": kw.pop("site_name", sorted(NAMES.get(site, {site}))[0]),
        "source": source,
        "published_at": published,
        "fetched_at": kw.pop("fetched_at", "2024-01-01T00:00:00+08:00"),
        **kw,
    }


def test_the_copy_another_cites_wins_over_an_earlier_one() -> None:
    origin = rec("scfzw", "2021-09-02T17:33:01+08:00", "渠县政法委")
    reprint = rec("dali", "2021-09-01T10:05:00+08:00", "四川法制网")  # dated earlier
    assert better_origin(origin, reprint, NAMES)
    assert not better_origin(reprint, origin, NAMES)


def test_citation_by_alias_and_display_name_after_nfkc_and_spaces() -> None:
    origin = rec("dali", "2021-01-02", site_name="大理白族自治州人民政府")
    assert cited(origin, ["大理州人民政府"], NAMES)
    assert cited(origin, [" 大理白族自治州 人民政府 "], NAMES)
    assert not cited(origin, ["大理日报", None], NAMES)
    assert normalize_name("四川法制网\u3000") == "四川法制网"


def test_site_name_counts_for_portals_without_names() -> None:
    origin = rec("other", "2022-01-02", site_name="某某网")
    reprint = rec("cri", "2022-01-01", "某某网")
    assert better_origin(origin, reprint, {})


def test_a_copy_cited_by_a_third_copy_stays_kept() -> None:
    kept = rec("lnzf", "2020-07-16T08:45:00+08:00")
    early = rec("cri", "2020-07-15T08:00:00+08:00")
    assert better_origin(early, kept, NAMES)
    assert not better_origin(early, kept, NAMES, cited_by=["辽宁长安网"])


def test_both_cited_falls_back_to_the_date() -> None:
    a = rec("lnzf", "2020-07-16T08:45:00+08:00", "国际在线")
    b = rec("cri", "2020-07-16T15:20:08+08:00", "辽宁长安网")
    assert better_origin(a, b, NAMES)
    assert not better_origin(b, a, NAMES)


def test_earliest_published_wins_without_citation() -> None:
    seed = rec("lnzf", "2020-07-16T08:45:00+08:00", "辽宁法制报")
    reprint = rec("cri", "2020-07-16T15:20:08+08:00", "辽宁法制报")
    assert better_origin(seed, reprint, NAMES)
    assert not better_origin(reprint, seed, NAMES)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("2022-07-15", "2022-07-15T10:00:00+08:00", 0),  # a day-only date: same day ties
        ("2022-07-14", "2022-07-15T10:00:00+08:00", -1),
        ("2022-07-15T00:00:00+08:00", "2022-07-14T23:00:00+00:00", -1),  # offsets honoured
        (None, "2022-07-15", 1),  # a dated copy before an undated one
        ("not a date", "2022-07-15", 1),
        (None, None, 0),
    ],
)
def test_date_comparison(a: str | None, b: str | None, expected: int) -> None:
    assert compare(rec("cri", a), rec("lnzf", b), NAMES) == expected


def test_day_precision_field_compares_days_only() -> None:
    a = rec("cri", "2022-07-15T00:00:00+08:00", published_precision="day")
    b = rec("lnzf", "2022-07-15T10:00:00+08:00", published_precision="second")
    assert compare(a, b, NAMES) == 0


def test_first_seen_breaks_ties_and_the_kept_copy_stays() -> None:
    first = rec("cri", None, fetched_at="2024-01-01T00:00:00+08:00")
    later = rec("lnzf", None, fetched_at="2024-01-01T00:00:05+08:00")
    assert better_origin(first, later, NAMES)
    assert not better_origin(later, first, NAMES)
    same = rec("lnzf", None, fetched_at=first["fetched_at"])
    assert not better_origin(same, first, NAMES)
    assert not better_origin(first, same, NAMES)


def test_winner_is_a_total_order() -> None:
    a = rec("cri", None, id="0001")
    b = rec("lnzf", None, id="0002")
    assert winner(a, b, NAMES) is a
    assert winner(b, a, NAMES) is a


def test_portal_names_from_the_seed_portals() -> None:
    names = portal_names(load_portals(seeds_dir_from_settings("seeds")))
    assert "四川法制网" in names["scfzw"]
    assert "国际在线" in names["cri"]


def test_choosing_a_clusters_origin_at_once_equals_the_pairwise_rule() -> None:
    """:func:`choose` (each copy read once) against the rule's definition written with
    :func:`cited` and :func:`compare`: random clusters of copies citing each other or
    not, dated to the second, to the day, not at all or wrongly, fetched at any time."""
    import random

    from crawler.dedup.origin import choose

    def reference(members: list[dict[str, Any]]) -> int:
        sources = [m.get("source") for m in members]
        named = [
            i
            for i, m in enumerate(members)
            if cited(m, [s for j, s in enumerate(sources) if j != i], NAMES)
        ]
        pool = named or list(range(len(members)))
        best = pool[0]
        for i in pool[1:]:
            others = [s for j, s in enumerate(sources) if j not in (i, best)]
            if compare(members[i], members[best], NAMES, others) < 0:
                best = i
        return best

    rnd = random.Random(4)
    sites = [*NAMES, "other"]
    sources = [None, "", "国际在线", " 辽宁长安网 ", "四川法制网", "某报", "大理州人民政府", 7]
    published = [
        None,
        "2021-09-02",
        "2021-09-02T08:00:00+08:00",
        "2021-09-02T07:59:59+08:00",
        "2021-09-01T23:00:00+08:00",
        "2021-09-02T08:00:00",  # no offset: compared by day
        "not a date",
    ]
    fetched = ["2024-01-01T00:00:00+08:00", "2023-12-31T23:00:00+08:00", None, "bad"]
    for _ in range(3000):
        members = []
        for k in range(rnd.randint(1, 6)):
            site = rnd.choice(sites)
            members.append(
                rec(
                    site,
                    rnd.choice(published),
                    rnd.choice(sources),
                    id=f"{site}-{k}",
                    fetched_at=rnd.choice(fetched),
                    published_precision=rnd.choice([None, "day", "second"]),
                )
            )
        non_str = [m for m in members if not isinstance(m["source"], str | None)]
        if non_str:  # the pairwise rule cannot read a non-string 来源: choose ignores it
            for m in non_str:
                m["source"] = None
        assert choose(members, NAMES) == reference(members), members
