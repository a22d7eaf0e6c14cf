"""The offline replica of the seed portals (see ``crawler.replica.server``)."""

from __future__ import annotations

from crawler.replica.server import ReplicaServer, serve_replica, start_replica
from crawler.replica.sites import MANIFEST_PATH, Replica, ReplicaError, load_manifest

__all__ = [
    "MANIFEST_PATH",
    "Replica",
    "ReplicaError",
    "ReplicaServer",
    "load_manifest",
    "serve_replica",
    "start_replica",
]
