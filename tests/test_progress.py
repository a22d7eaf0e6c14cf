"""The progress line logged every PROGRESS_INTERVAL seconds."""

from __future__ import annotations

from crawler.progress import progress_line


def test_progress_line_counts_articles_and_errors() -> None:
    stats = {
        "fetch/list": 12,
        "store/articles": 3,
        "incremental/seen_skipped": 41,
        "store/duplicates": 1,
        "store/duplicates/minhash": 1,
        "validate/dropped/empty": 2,
        "incremental/before_since": 4,
        "errors/http/503": 1,
        "errors/download/DownloadTimeoutError": 2,
        "page/errors": 1,
        "page/errors/ValueError": 1,
    }
    assert progress_line("scfzw", stats, 20.4) == (
        "scfzw: 12 list pages, articles 3 new / 41 seen / 1 duplicate / 6 dropped, 4 errors (20 s)"
    )
    assert progress_line("cri", {}, 0) == (
        "cri: 0 list pages, articles 0 new / 0 seen / 0 duplicates / 0 dropped, 0 errors (0 s)"
    )
