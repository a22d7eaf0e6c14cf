"""Every setting of the project, with its default, in one place.

Scrapy reads this module (``scrapy.cfg`` points at it).  Project settings are
the upper-case names below the ``Project settings`` line; each has a one-line
comment and is listed in the README.  Override any of them per run with
``scrapy crawl SITE -s NAME=VALUE``.

Scrapy's library defaults are not polite to real portals (robots.txt ignored,
no delay, 8 requests per domain at once, a 1 GiB download limit); the values
below are chosen for small government servers and set explicitly.
"""

from __future__ import annotations

BOT_NAME = "zhengfa"  # Scrapy project name
SPIDER_MODULES = ["crawler.spiders"]  # built-in spiders (the generic "portal")
NEWSPIDER_MODULE = "crawler.spiders"  # where scrapy genspider writes

# --- Politeness -------------------------------------------------------------
# Contact shown in the User-Agent: set it to a mail address or project URL.
CRAWLER_CONTACT = "https://github.com/zhengfa-crawler/zhengfa-crawler"
# Honest User-Agent naming the project and the contact; portal spiders rebuild it from
# USER_AGENT_TEMPLATE when CRAWLER_CONTACT is set per run (-s CRAWLER_CONTACT=…).
USER_AGENT_TEMPLATE = "zhengfa-crawler/0.1 (research news collector; +{contact})"
USER_AGENT = USER_AGENT_TEMPLATE.format(contact=CRAWLER_CONTACT)
ROBOTSTXT_OBEY = True  # robots.txt obeyed; see README for the policy on broken files
# robots.txt answering 5xx or unreachable: "defer" skips the host this run, "allow" ignores it.
ROBOTSTXT_UNAVAILABLE = "defer"
CONCURRENT_REQUESTS = 16  # across all portals of one process
CONCURRENT_REQUESTS_PER_DOMAIN = 2  # at most two requests at once to one portal
# Scrapy's downloader, with the per-portal limit enforced also when DOWNLOAD_DELAY is 0.
DOWNLOADER = "crawler.downloader.PoliteDownloader"
DOWNLOAD_DELAY = 0.5  # seconds between requests to one portal (AutoThrottle adapts it)
DOWNLOAD_DELAY_JITTER = 0.5  # each delay drawn from 0.5x to 1.5x DOWNLOAD_DELAY
AUTOTHROTTLE_ENABLED = True  # back off when a portal slows down
AUTOTHROTTLE_START_DELAY = 1.0  # first delay before AutoThrottle has measured the portal
AUTOTHROTTLE_MAX_DELAY = 30.0  # longest delay AutoThrottle backs off to
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0  # aim for one request in flight per portal
DOWNLOAD_TIMEOUT = 30  # seconds before a hung server is given up on
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024  # 32 MiB: bigger bodies and decompression bombs are dropped
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024  # log a warning for bodies above 8 MiB
DOWNLOAD_FAIL_ON_DATALOSS = True  # a truncated body is an error, never an article
RETRY_ENABLED = True  # retry transient failures (see RETRY_TIMES)
RETRY_TIMES = 2  # two retries on 5xx, 429, timeouts and dropped connections
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]  # statuses worth a retry
REDIRECT_MAX_TIMES = 5  # redirect loops stop here
# Safety net against link traps; pagination itself stops at the portal's max_pages
# (default 50 list pages per start URL) or at the incremental watermark.
DEPTH_LIMIT = 2000
DNS_TIMEOUT = 20  # seconds for a DNS lookup
COOKIES_ENABLED = False  # portals need no session; cookies only make requests unique
TELNETCONSOLE_ENABLED = False  # no listening ports from a cron job
REMOTE_CONTROL_ENABLED = False  # Scrapy's remote-control HTTP server: same reason
LOG_LEVEL = "INFO"  # one line per reprint and per failure; stats at the end
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"  # Scrapy's current request fingerprints
LOG_FORMATTER = "crawler.logformatter.CompactLogFormatter"  # dropped items: reason + URL
DEFAULT_DROPITEM_LOG_LEVEL = "INFO"  # drops (reprints, empty pages) are expected and counted
FEED_EXPORT_ENCODING = "utf-8"  # -O x.jsonl writes Chinese as text, not \u escapes

# --- Project settings ---------------------------------------------------------
# Directory of the portal definitions (one TOML file per portal).
SEEDS_DIR = "seeds"
# Where JSONL output goes: OUTPUT_DIR/<site>/articles.jsonl and duplicates.jsonl.
OUTPUT_DIR = "output"
# Where persistent state goes: dedup index, seen-URL stores, locks.
STATE_DIR = "state"
# Base URL of the offline replica (python -m crawler replica); empty = the real portals.
REPLICA_URL = ""
# Processes that run page processing (decode, repair, extract, metadata); 0 = in the crawl process.
PAGE_WORKERS = 2
# Seconds one page's processing may take in a worker before it is abandoned (a huge page).
PAGE_TIMEOUT = 60.0
# Pages bigger than this (bytes, after inline data: images are cut) are not parsed:
# dropped as "too_large" (memory and time grow with the page; bench/faults.py).
PAGE_MAX_BYTES = 8 * 1024 * 1024
# Pages with more start tags than this are not parsed either ("too_large"): real
# article pages have a few thousand; 40,000 cost 15-30 s of extraction, 100,000 minutes.
PAGE_MAX_ELEMENTS = 30_000
# Body text longer than this (characters) is cut at a paragraph end, flagged "text_truncated".
TEXT_MAX_CHARS = 200_000
# WARC archive of every response received (see README "The archive"): on by default.
ARCHIVE_ENABLED = True
# Where the WARC files go; empty = OUTPUT_DIR/<site>/warc/.
ARCHIVE_DIR = ""
# A WARC file is finished (renamed from .open) once it reaches this many MiB.
ARCHIVE_MAX_FILE_MB = 1000
# Garbage-collector thresholds in the crawl process: Scrapy makes many short-lived
# objects per response, and the default generation-0 threshold (700) spends a large
# share of its CPU collecting them.
GC_THRESHOLDS = (50000, 50, 100)

# Near-duplicate detection (see README "Duplicates" for how these were chosen:
# labelled pairs in tests/data/dedup/, bench/dedup.py).  Changing any of the
# first five rebuilds the index in STATE_DIR/dedup from the JSONL output.
DEDUP_ENABLED = True  # False writes every valid article
DEDUP_SHINGLE_SIZE = 5  # character n-grams over the normalized simplified text
# MinHash permutations: 128 give an estimate with a standard error of 0.044 at Jaccard 0.55
# (64: 0.062); the numba kernel makes them cheap (29 us a document, 17 us for 64).
DEDUP_NUM_PERM = 128
DEDUP_SEED = 1  # MinHash permutation seed (datasketch-compatible)
DEDUP_SCHEME = "affine32"  # datasketch 2 permutation scheme ("legacy": datasketch < 2, 15x slower)
# LSH candidates: datasketch picks 32 bands x 4 rows for 0.34 at 128 permutations (a pair
# at 0.55 is a candidate 95 % of the time, at 0.6 99 %; 3 rows would flood the index
# with candidates among same-topic texts).
DEDUP_LSH_THRESHOLD = 0.34
# Estimated Jaccard at or above which a candidate is a duplicate: between same-topic
# reports (true Jaccard up to about 0.34-0.39) and abridged reprints (0.55 and up).
DEDUP_THRESHOLD = 0.45
DEDUP_SAVE_EVERY = 10000  # save the index after this many kept records (and at close)

# Several machines on one Redis (README "Several machines"): with REDIS_URL set
# (redis://host:port/db) the frontier, the request fingerprints, each portal's seen
# store and the near-duplicate index live in Redis, and each process writes
# OUTPUT_DIR/<site>/<host>-<pid>/; empty = everything embedded, as in one process.
REDIS_URL = ""
REDIS_PREFIX = "zhengfa"  # first part of every Redis key (one crawl per prefix)
# A popped request not acknowledged nor renewed for this long goes back to the queue
# (its worker was killed or hangs); another worker then fetches it.
REDIS_LEASE_SECONDS = 60.0
REDIS_POLL_SECONDS = 0.2  # how often a worker renews its leases and looks for new requests
REDIS_RETRY_MAX_SECONDS = 10.0  # longest wait between two tries while Redis is unreachable
ADDONS = {"crawler.distributed.addon.RedisAddon": 0}  # applies REDIS_URL (no-op when empty)

# Articles shorter than this (characters of body text) are dropped as empty.
MIN_TEXT_CHARS = 80
# Below this many characters an article is kept but flagged "short_body".
SHORT_TEXT_CHARS = 300

# Incremental crawling.
INCREMENTAL_ENABLED = True  # skip article URLs already written for this portal
# Stop paginating after this many list pages in a row that yield no new article.
LIST_PAGES_WITHOUT_NEW = 1
# Exit status 1 when errors (failed downloads, extraction errors) exceed this share of pages.
ERROR_RATE_LIMIT = 0.2
# Exit status 1 when at least this many article pages were fetched and none gave a record.
SUMMARY_MIN_ARTICLE_PAGES = 5
# fsync output, seen store and checkpoint every N records (measured: 0.4 ms per fsync).
STORE_FSYNC_EVERY = 20
# Challenge pages (瑞数, 加速乐, WAF block pages, 请稍候 interstitials: crawler/blocking.py):
# asked for again this many times, the n-th retry after CHALLENGE_BACKOFF * 2**(n-1) seconds,
# then given up on (counted; exit status 77).
CHALLENGE_RETRY_TIMES = 2
CHALLENGE_BACKOFF = 10.0  # seconds before the first retry of a challenge page
# Attachments (附件: .pdf .doc .docx .wps .xls .xlsx .zip .ofd) of each kept record are
# downloaded to OUTPUT_DIR/<site>/files/ (pipelines/files.py) when True; listed either way.
ATTACHMENTS_DOWNLOAD = False
ATTACHMENTS_MAX_BYTES = 32 * 1024 * 1024  # a bigger attachment is not downloaded
# Revisits of known articles (-a revisit=1; see README "Revisits and change events").
# Days before an article is revisited at the soonest (the first revisit, and after a change).
REVISIT_MIN_INTERVAL = 1.0
# Days between revisits at the longest (the interval doubles while nothing changes).
REVISIT_MAX_INTERVAL = 90.0
# Factor the interval grows by after an unchanged revisit and shrinks by after a change.
REVISIT_BACKOFF = 2.0
# Revisit requests per run at most (the most overdue first), so new articles keep room.
REVISIT_MAX_PER_RUN = 200
# Seconds between progress lines during a crawl (list pages, articles, errors); 0 = none.
PROGRESS_INTERVAL = 10.0
# `python -m crawler status` alarms: runs in a row with no new article (after runs that had
# some) that mean the yield fell to zero; the error share the last run must pass (and twice
# the portal's usual share) to mean errors rose.
STATUS_ZERO_YIELD_RUNS = 3
STATUS_ERROR_RISE_FLOOR = 0.05
# `scrapy crawl` exits with the run's status (see scrapy crawl -h); `scrapy list` names bad files.
COMMANDS_MODULE = "crawler.scrapy_commands"

# Components: each entry says what it does; the README's tables explain them.
SPIDER_MIDDLEWARES = {
    "crawler.middlewares.IncrementalMiddleware": 100,  # skip written articles, stop pagination
    "crawler.revisit.RevisitStartMiddleware": 110,  # -a revisit=1: known articles that are due
}

EXTENSIONS = {
    "crawler.extensions.PortalRunExtension": 100,  # portal lock, run summary, exit status
    "crawler.progress.ProgressExtension": 500,  # a progress line every PROGRESS_INTERVAL s
}

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.robots.RobotsPolicyMiddleware": 100,  # robots.txt with a policy for broken files
    "crawler.middlewares.FetchStatsMiddleware": 540,  # final fetch outcomes (after retries)
    "crawler.blocking.ChallengeMiddleware": 560,  # challenge pages: counted, retried, given up
    "crawler.archive.WarcArchiveMiddleware": 950,  # WARC archive: raw bytes, before inflation
}

ITEM_PIPELINES = {
    "pipelines.revisit.RevisitPipeline": 90,  # revisits: change events, versions, schedule
    "pipelines.page.PagePipeline": 100,  # decode, repair, script, extract, metadata
    "pipelines.validate.ValidatePipeline": 400,  # drop empty and non-article pages
    "pipelines.store.SinceFilterPipeline": 450,  # drop articles older than -a since=
    "pipelines.dedup.DedupPipeline": 500,  # exact and near-duplicate reprints
    "pipelines.files.AttachmentsPipeline": 800,  # ATTACHMENTS_DOWNLOAD: files of kept records
    "pipelines.store.JsonlStorePipeline": 900,  # OUTPUT_DIR/<site>/articles.jsonl
}

# One spider per seeds/*.toml file, besides the built-in ones.
SPIDER_LOADER_CLASS = "crawler.spiders.loader.PortalSpiderLoader"
