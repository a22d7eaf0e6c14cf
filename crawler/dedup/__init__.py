"""Near-duplicate detection: MinHash signatures, the persistent LSH index, offline dedup.

- :mod:`crawler.dedup.shingles`: dedup text as code points, hashed character shingles
- :mod:`crawler.dedup.minhash`: datasketch-compatible signatures with numpy
- :mod:`crawler.dedup.lsh`: datasketch's band/row choice and band keys
- :mod:`crawler.dedup.index`: the on-disk index (segments of numpy arrays, manifest)
- :mod:`crawler.dedup.engine`: the decision (url, content hash, MinHash)
- :mod:`crawler.dedup.state`: reopen / replay / rebuild from the JSONL output
- :mod:`crawler.dedup.offline`: deduplicate existing JSONL files
"""
