"""Many crawl processes on many machines sharing one Redis (``-s REDIS_URL=…``).

- :mod:`~crawler.distributed.addon`: the switch (scheduler, seen stores, dedup stage);
- :mod:`~crawler.distributed.connection`: keys, outages, a server that lost its state;
- :mod:`~crawler.distributed.scheduler`: the frontier, with leases;
- :mod:`~crawler.distributed.state`: per-process output folders, seen stores in Redis;
- :mod:`~crawler.distributed.dedup`: the near-duplicate index as band sets in Redis.
"""
