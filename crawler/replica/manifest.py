"""``python -m crawler.replica.manifest``: rewrite ``sites/manifest.json`` from the site data.

The manifest is the ground truth of the replica as shipped; tests check that
the committed file matches what the data gives.  Run this after editing
anything under ``crawler/replica/sites/``.
"""

from __future__ import annotations

from crawler.replica.sites import MANIFEST_PATH, Replica, build_manifest, manifest_json


def main() -> None:
    MANIFEST_PATH.write_text(manifest_json(build_manifest(Replica())), encoding="utf-8")
    print(f"wrote {MANIFEST_PATH}")


if __name__ == "__main__":
    main()
