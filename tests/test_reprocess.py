"""crawler.reprocess units: archive order kept whatever order the page workers finish in."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

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
