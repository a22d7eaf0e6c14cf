"""crawler.reprocess: archive order kept whatever order the page workers finish in; a run ends."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from crawlrun import ROOT
from scrapy import signals
from scrapy.signalmanager import SignalManager

from crawler.reprocess import ArchiveOrderPipeline


def _item(n: int) -> Any:
    return SimpleNamespace(archive={"file": "a.warc.gz", "offset": n * 100, "record_id": str(n)})


def test_records_pass_in_archive_order_and_a_dropped_one_lets_the_next_on() -> None:
    async def scenario() -> list[int]:
        spider = SimpleNamespace(sequence={("a.warc.gz", n * 100): n for n in range(5)})
        crawler: Any = SimpleNamespace(signals=SignalManager(), spider=spider)
        pipe = ArchiveOrderPipeline.from_crawler(crawler)
        passed: list[int] = []

        async def send(n: int) -> None:
            item = await pipe.process_item(_item(n))
            passed.append(int(item.archive["record_id"]))

        # workers finish 3, 1, 4, 0 (2 failed in the page stage and was dropped there)
        tasks = [asyncio.create_task(send(n)) for n in (3, 1, 4)]
        await asyncio.sleep(0.01)
        assert passed == []  # nobody before 0
        tasks.append(asyncio.create_task(send(0)))
        await asyncio.sleep(0.01)
        assert passed == [0, 1]  # 3 waits for 2
        crawler.signals.send_catch_log(signal=signals.item_dropped, item=_item(2))
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        return passed

    assert asyncio.run(scenario()) == [0, 1, 3, 4]


def test_records_without_a_number_are_not_held() -> None:
    async def scenario() -> Any:
        crawler: Any = SimpleNamespace(signals=SignalManager(), spider=SimpleNamespace())
        pipe = ArchiveOrderPipeline.from_crawler(crawler)
        return await asyncio.wait_for(pipe.process_item(_item(7)), 5)

    assert asyncio.run(scenario()).archive["offset"] == 700


# A handler of ``item_scraped`` that takes its time: the item signals are sent before
# Scrapy's scraper takes an item from start() off its count, so the last page's signal
# is handled while the scraper still counts it.  A close begun then never ended.
_SLOW_SIGNAL = """
import asyncio, sys
from pathlib import Path
from scrapy import signals
from crawler import reprocess
from crawler.portals import load_portals, seeds_dir_from_settings

class SlowScraped:
    @classmethod
    def from_crawler(cls, crawler):
        async def slow(**kwargs):
            await asyncio.sleep(0.2)
        crawler.signals.connect(slow, signal=signals.item_scraped, weak=False)
        return cls()

sys.modules["slowsignal"] = sys.modules[__name__]
warc, out = Path(sys.argv[1]), Path(sys.argv[2])
portals = load_portals(seeds_dir_from_settings(None))
the_plan = reprocess.plan([warc], portals, None)
extensions = {"crawler.extensions.PortalRunExtension": None, "slowsignal.SlowScraped": 0}
results = reprocess.run_plan(the_plan, portals, out, out / ".state", int(sys.argv[3]), None,
                             {"EXTENSIONS": extensions})
print(sum(int(r.stats.get("store/articles") or 0) for r in results))
"""


@pytest.mark.parametrize("workers", [0, 2])
def test_reprocess_ends_when_the_last_items_signal_is_slow(tmp_path: Path, workers: int) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from crawler.replica.sites import Replica as ReplicaSites

    site = ReplicaSites().sites["scfzw"]
    host = site.config.host
    paths = [article.path for article in site.ordered()[:3]]
    replica = ReplicaSites()
    warc = tmp_path / "pages.warc.gz"
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for path in paths:
            served = replica.lookup(host, path)
            assert served is not None
            head = StatusAndHeaders("200 OK", served.headers, protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                f"http://{host}{path}", "response", payload=io.BytesIO(served.body),
                length=len(served.body), http_headers=head,
            ))  # fmt: skip
    script = tmp_path / "run.py"
    script.write_text(_SLOW_SIGNAL, "utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(warc), str(tmp_path / "out"), str(workers)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "3"
