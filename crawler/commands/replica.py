"""Serve the offline replica of the seed portals on a loopback port.

Every replicated portal is served at ``http://HOST:PORT/<portal host>/<path>``;
crawl it with ``scrapy crawl SITE -s REPLICA_URL=http://HOST:PORT``.  Fault
endpoints are under ``/faults.test/`` and control endpoints (manifest, adding
articles for incremental crawls) under ``/_replica/``: see
``crawler.replica.server`` and ``crawler.replica.faults``.  Serves until
SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from crawler.replica.server import start_replica
from crawler.replica.sites import Replica


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8800, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--bulk",
        type=int,
        default=0,
        metavar="N",
        help="add N synthetic articles to every portal (a benchmark corpus; default 0)",
    )


def run(args: argparse.Namespace) -> int:
    replica = Replica()
    if args.bulk:
        replica.add_bulk(args.bulk)
    try:
        server, base_url = start_replica(args.port, args.host, replica, verbose=args.verbose)
    except OSError as exc:
        print(f"replica: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(f"replica listening on {base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("replica stopped", flush=True)
    return 0
