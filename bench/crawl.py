"""Crawl speed on a local site of real news pages: download only, extraction only, full crawl.

    .venv/bin/python bench/crawl.py [--pages 2064] [--feeds 8] [--extract-pages N]

Builds a site in a temporary directory from ``../shared/corpora/fundus_news`` (gzip HTML, read at
run time, never copied into the repository): every page ``ceil(pages / 258)`` times, each copy
with its own URL, the publisher's absolute links rewritten to the local server (so canonical URLs
point at the copy) and, after the first copy, a marker sentence so copies are distinct articles.
RSS feeds list three pages in four; a sitemap index (``/sitemap.xml``) of Google News sitemaps
(``lastmod``, ``news:publication_date``, ``news:title``) lists the fourth. The site is served on
127.0.0.1 by newsmon's demo server (this process). Then, each in a fresh child process, one run
prints:

  (a) a bare Scrapy spider that downloads every page and does nothing with it;
  (b) plain trafilatura (``bare_extraction(with_metadata=True)``, the baseline of
      bench/extraction.py) over the same pages (all of them unless ``--extract-pages`` is
      smaller: then page i from copy i mod copies, the crawl's mix of first and marked copies),
      in one process;
  (b') newsmon's ``extract_article`` over the same pages, in one process;
  (c) ``newsmon crawl`` (the runner's child: the feeds and the sitemap source, download,
      extraction pool, SQLite).

Pages/s, peak RSS (the largest process; for (c) also the whole tree's PSS, sampled every 0.25 s)
and CPU seconds per page. For (c) also: memory at each quarter of the crawl per process role
(crawl process, fork server, extraction workers), CPU seconds per page per role, and the rate
those CPU seconds allow on idle cores (wall times swing with other work on a shared host).
No network beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "fundus_news"
BASE = "{{BASE_URL}}"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the site -------------------------------------------------------------------------------------
@dataclass(slots=True)
class Site:
    root: Path
    paths: list[str]  # URL paths of the article pages, feed order
    titles: list[str]
    in_sitemap: int = 0  # pages listed by the sitemap index rather than a feed


SITEMAP_EVERY = 4  # every fourth page is found through the sitemap, the others through a feed
SITEMAP_CHILD = 200  # URLs per child sitemap (a news sitemap holds at most 1,000)


def build_site(root: Path, pages: int, feeds: int) -> Site:
    records = json.loads((CORPUS / "groundtruth_flat.json").read_text(encoding="utf-8"))
    copies = math.ceil(pages / len(records))
    paths, titles = [], []
    for index, record in enumerate(records):
        html = gzip.decompress((CORPUS / record["html"]).read_bytes())
        for copy in range(copies):
            path = f"/a/{copy}/{index}.html"
            (root / path[1:]).parent.mkdir(parents=True, exist_ok=True)
            (root / path[1:]).write_bytes(local_page(html, record["url"], path, copy))
            paths.append(path)
            titles.append(f"{record['title'] or 'untitled'} ({copy})")
    by_feed = [i for i in range(len(paths)) if i % SITEMAP_EVERY != SITEMAP_EVERY - 1]
    by_sitemap = [i for i in range(len(paths)) if i % SITEMAP_EVERY == SITEMAP_EVERY - 1]
    for n in range(feeds):
        items = [(titles[i], paths[i]) for i in by_feed[n::feeds]]
        (root / f"feed-{n}.xml").write_text(rss(items), encoding="utf-8")
    write_sitemaps(root, [(titles[i], paths[i]) for i in by_sitemap])
    return Site(root, paths, titles, len(by_sitemap))


def write_sitemaps(root: Path, items: list[tuple[str, str]]) -> None:
    """/sitemap.xml: an index of Google News sitemaps, each URL with its lastmod and news tags."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    children = []
    for start in range(0, len(items), SITEMAP_CHILD):
        name = f"sitemaps/news-{start // SITEMAP_CHILD}.xml"
        urls = "".join(
            f"<url><loc>{BASE}{path}</loc><lastmod>{now}</lastmod><news:news><news:publication>"
            f"<news:name>bench</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{now}</news:publication_date><news:title>{escape(title)}</news:title>"
            f"</news:news></url>" for title, path in items[start:start + SITEMAP_CHILD])
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(
            "<?xml version='1.0' encoding='utf-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            f"xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{urls}</urlset>", encoding="utf-8")
        children.append(f"<sitemap><loc>{BASE}/{name}</loc><lastmod>{now}</lastmod></sitemap>")
    (root / "sitemap.xml").write_text(
        "<?xml version='1.0' encoding='utf-8'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        + "".join(children) + "</sitemapindex>", encoding="utf-8")


def local_page(html: bytes, url: str, path: str, copy: int) -> bytes:
    """The publisher's page with its absolute links pointing at the local copy / server."""
    host = urlsplit(url).netloc.encode()
    html = html.replace(url.encode(), (BASE + path).encode())
    html = re.sub(rb"https?://" + re.escape(host), BASE.encode(), html)
    if copy:  # a distinct text (and content hash) per copy: each copy is a new article. The marker
        # reads as the end of a sentence: a bare "[3]" after every paragraph made the text look
        # like non-prose to the extractor, which then always ran its careful second pass
        html = html.replace(b"</p>", f" (copy {copy}.)</p>".encode())
    return html


def rss(items: list[tuple[str, str]]) -> str:
    entries = "".join(f"<item><title>{escape(t)}</title><link>{BASE}{p}</link><guid>{BASE}{p}</guid></item>"
                      for t, p in items)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>bench</title>"
            f"<link>{BASE}/</link><description>bench</description>{entries}</channel></rss>")


# -- (a) download only ---------------------------------------------------------------------------
def run_download(urls_file: str) -> dict[str, float]:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    urls = Path(urls_file).read_text().split()

    class DownloadOnly(scrapy.Spider):
        name = "download-only"
        fetched = 0

        async def start(self):  # type: ignore[no-untyped-def]
            for url in urls:
                yield scrapy.Request(url, dont_filter=True)

        def parse(self, response):  # type: ignore[no-untyped-def]
            DownloadOnly.fetched += 1 if response.body else 0

    process = CrawlerProcess({"LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTS": 16,
                              "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "DOWNLOAD_DELAY": 0, "COOKIES_ENABLED": False,
                              "TELNETCONSOLE_ENABLED": False,
                              "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor"})
    started, cpu = time.monotonic(), time.process_time()
    process.crawl(DownloadOnly)
    process.start()
    return {"pages": DownloadOnly.fetched, "seconds": time.monotonic() - started, "cpu": time.process_time() - cpu}


# -- (b) extraction only -------------------------------------------------------------------------
def run_extract(site_root: str, base_url: str, limit: int, which: str) -> dict[str, float]:
    from datetime import UTC, datetime

    paths = sample_pages(Path(site_root), limit)
    pages = [(f"{base_url}/{p.relative_to(site_root)}", p.read_bytes().replace(BASE.encode(), base_url.encode()))
             for p in paths]
    if which == "trafilatura":
        import trafilatura

        def extract(url: str, html: bytes) -> object:
            return trafilatura.bare_extraction(html, url=url, with_metadata=True)
    else:
        from newsmon.extract import ExtractionError, extract_article
        from newsmon.records import FetchedPage

        def extract(url: str, html: bytes) -> object:
            page = FetchedPage(url, url, 200, {"Content-Type": "text/html"}, html, datetime.now(UTC), "bench")
            try:
                return extract_article(page)
            except ExtractionError:
                return None
    started, cpu = time.monotonic(), time.process_time()
    for url, html in pages:
        extract(url, html)
    return {"pages": len(pages), "seconds": time.monotonic() - started, "cpu": time.process_time() - cpu}


def sample_pages(site_root: Path, limit: int) -> list[Path]:
    """Every page of the site when `limit` reaches their number, else `limit` distinct corpus
    pages, page i from copy i mod copies: the crawl's mix of first and marked copies."""
    copies = sorted((site_root / "a").iterdir(), key=lambda d: int(d.name))
    distinct = len(list(copies[0].glob("*.html")))
    if limit <= 0 or limit >= distinct * len(copies):
        return [copy / f"{i}.html" for i in range(distinct) for copy in copies]
    return [copies[i % len(copies)] / f"{i}.html" for i in range(min(limit, distinct))]


# -- (c) the full crawl, with the process tree sampled ---------------------------------------------
ROLES = ("crawl", "forkserver", "worker", "other")


@dataclass(slots=True)
class Proc:
    """One process of the crawl's tree at one moment (memory in MB, CPU in seconds)."""

    pid: int
    role: str
    rss: float
    pss: float  # proportional: pages shared with the fork server and siblings counted once in all
    anon: float  # anonymous memory (heap; in a worker partly still shared with the fork server)
    cpu: float


@dataclass
class TreeSampler:
    """Memory and CPU time of this process's descendants, by role, every `every` seconds."""

    every: float = 0.25
    samples: list[tuple[float, list[Proc]]] = field(default_factory=list)
    cpu: dict[int, tuple[str, float]] = field(default_factory=dict)  # pid -> (role, last CPU seconds)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            procs = [p for p in (_proc(pid, role) for pid, role in _descendants(os.getpid())) if p]
            if procs:
                self.samples.append((time.monotonic() - self._started, procs))
            for proc in procs:
                self.cpu[proc.pid] = (proc.role, proc.cpu)

    def cpu_by_role(self) -> dict[str, float]:
        return {role: sum(c for r, c in self.cpu.values() if r == role) for role in ROLES}


def _descendants(root: int) -> list[tuple[int, str]]:
    """(pid, role) of every descendant: the runner's child is "crawl", its multiprocessing fork
    server "forkserver", the fork server's children (or spawned children) "worker"."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found: list[tuple[int, str]] = []
    todo = [(pid, "") for pid in children.get(root, [])]
    while todo:
        pid, parent_role = todo.pop()
        role = _role(pid, parent_role)
        found.append((pid, role))
        todo.extend((child, role) for child in children.get(pid, []))
    return found


def _role(pid: int, parent_role: str) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "other"
    if b"newsmon.crawlers.runner" in cmdline:
        return "crawl"
    if parent_role == "forkserver" or b"spawn_main" in cmdline:
        return "worker"
    return "forkserver" if b"forkserver" in cmdline else "other"


def _proc(pid: int, role: str) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kb = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+):\s+(\d+) kB", rollup, re.MULTILINE)}
    return Proc(pid, role, kb.get("Rss", 0) / 1024, kb.get("Pss", 0) / 1024,
                kb.get("Anonymous", 0) / 1024, (int(stat[11]) + int(stat[12])) / CLK_TCK)


def run_full_crawl(site: Site, base_url: str, feeds: int, tmp: Path) -> dict[str, object]:
    import yaml

    from newsmon.crawlers import crawl

    config = {"database": f"sqlite:///{tmp / 'bench.db'}",
              "crawl": {"delay": 0, "concurrency_per_domain": 8, "timeout": 60, "retries": 0,
                        "obey_robots": False, "max_articles_per_source": 100_000},
              "sources": [{"name": f"feed-{n}", "url": f"{base_url}/feed-{n}.xml", "allow_private": True}
                          for n in range(feeds)]
              + [{"name": "sitemap", "kind": "sitemap", "url": f"{base_url}/sitemap.xml", "allow_private": True}]}
    path = tmp / "newsmon.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    with TreeSampler() as sampler:
        report = crawl(str(path), None)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {"report": report, "samples": sampler.samples, "cpu": sampler.cpu_by_role(), "server_cpu": server_cpu,
            "largest": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


# -- the parent: build, serve, run each part in a child, print ------------------------------------
def child(part: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--part", part, *args], capture_output=True, text=True,
                         check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.part:
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.part == "download":
            result = run_download(args.urls)
        else:
            result = run_extract(args.site, args.base_url, args.extract_pages, args.part)
        print(json.dumps({**result, "own_peak_mb": peak()}))
        return
    if not CORPUS.is_dir():
        print(f"skipped: corpus {CORPUS} is absent (see ../shared/corpora/README.md)")
        return
    from newsmon.demo.server import serve_directory

    with tempfile.TemporaryDirectory(prefix="newsmon-bench-crawl-") as tmp_name:
        tmp = Path(tmp_name)
        site = build_site(tmp / "site", args.pages, args.feeds)
        print("load average (1, 5, 15 min) at the start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        print(f"site: {len(site.paths)} article pages ({len(site.paths) // 258} copies of 258 corpus pages), "
              f"{len(site.paths) - site.in_sitemap} in {args.feeds} RSS feeds, {site.in_sitemap} in a sitemap "
              f"index of Google News sitemaps; {cpus()} CPUs", flush=True)
        with serve_directory(site.root) as server:
            urls = tmp / "urls.txt"
            urls.write_text("\n".join(server.base_url + p for p in site.paths))
            rows = [("(a) bare Scrapy, download only", child("download", "--urls", str(urls)))]
            print_row(*rows[-1])
            for name, part in (("(b) plain trafilatura, 1 process", "trafilatura"),
                               ("(b') newsmon extract_article, 1 process", "newsmon"))[:0 if args.only_crawl else 2]:
                rows.append((name, child(part, "--site", str(site.root), "--base-url", server.base_url,
                                         "--extract-pages", str(args.extract_pages))))
                print_row(*rows[-1])
            full = run_full_crawl(site, server.base_url, args.feeds, tmp)
        print_full(full, rows)
    print("load average (1, 5, 15 min) at the end: {:.1f} {:.1f} {:.1f} (other work on this host skews wall "
          "times)".format(*os.getloadavg()))


def cpus() -> int:
    return len(os.sched_getaffinity(0))


def print_row(name: str, result: dict[str, float]) -> None:
    print(f"{name:<42} {result['pages']:>6.0f} pages {result['seconds']:>7.1f} s "
          f"{result['pages'] / result['seconds']:>7.1f} pages/s   peak RSS {result['own_peak_mb']:>6.0f} MB   "
          f"CPU {result['cpu'] / result['pages']:.4f} s/page", flush=True)


def print_full(full: dict[str, object], rows: list[tuple[str, dict[str, float]]]) -> None:
    report = full["report"]
    samples: list[tuple[float, list[Proc]]] = full["samples"]  # type: ignore[assignment]
    fetched = report.stored + report.duplicates + report.total("not_articles")  # type: ignore[attr-defined]
    rate = fetched / report.seconds  # type: ignore[attr-defined]
    tree_peak = max(sum(p.pss for p in procs) for _, procs in samples)
    print(f"{'(c) newsmon crawl (fetch, extract, store)':<42} {fetched:>6} pages {report.seconds:>7.1f} s "  # type: ignore[attr-defined]
          f"{rate:>7.1f} pages/s   peak RSS {full['largest']:>6.0f} MB largest process, {tree_peak:.0f} MB tree (PSS)")
    print(f"    stored {report.stored}, duplicates {report.duplicates}, not articles "  # type: ignore[attr-defined]
          f"{report.total('not_articles')}, failed requests {report.total('failed_requests')}, "  # type: ignore[attr-defined]
          f"store errors {report.total('store_errors')}")  # type: ignore[attr-defined]
    for name, result in rows[1:]:
        print(f"    (c) / {name.split(',')[0]}: {rate / (result['pages'] / result['seconds']):.2f}x")
    print_memory(samples)
    print_cpu(full, fetched, report.seconds)  # type: ignore[attr-defined]
    print_cpu_bound(full, fetched, rows)


def print_cpu_bound(full: dict[str, object], pages: int, rows: list[tuple[str, dict[str, float]]]) -> None:
    """Rates from CPU seconds per page, as on idle cores (wall times depend on the host's load).

    (c) uses every core for its workers but its crawl process runs on one: the lower bound wins.
    """
    cpu: dict[str, float] = full["cpu"]  # type: ignore[assignment]
    rate = min(cpus() * pages / sum(cpu.values()), pages / cpu["crawl"])
    print(f"    from CPU seconds, on {cpus()} idle cores: (c) {rate:.1f} pages/s", end="")
    for name, result in rows[1:]:
        print(f"; (c) / {name.split(',')[0]} (1 core): {rate / (result['pages'] / result['cpu']):.2f}x", end="")
    print()


def print_memory(samples: list[tuple[float, list[Proc]]]) -> None:
    """Memory at each quarter of the crawl: the tree's PSS, and per role RSS with its private heap."""
    crawling = [s for s in samples if any(p.role == "crawl" for p in s[1])]
    end = crawling[-1][0]
    print("    memory at 1/4, 2/4, 3/4, end of the crawl (PSS: shared pages counted once; anon: private heap):")
    for quarter in (1, 2, 3, 4):
        t, procs = next(s for s in crawling if s[0] >= end * quarter / 4)
        parts = []
        for role in ("crawl", "forkserver", "worker"):
            mine = [p for p in procs if p.role == role]
            if mine:
                parts.append(f"{role} x{len(mine)} RSS {sum(p.rss for p in mine):.0f} "
                             f"(anon {sum(p.anon for p in mine):.0f})")
        print(f"      {quarter}/4 ({t:5.1f} s): tree PSS {sum(p.pss for p in procs):5.0f} MB; " + ", ".join(parts))


def print_cpu(full: dict[str, object], pages: int, wall: float) -> None:
    """CPU seconds by process role, in all and per page fetched."""
    cpu: dict[str, float] = full["cpu"]  # type: ignore[assignment]
    roles = {"crawl process (reactor: download, feeds, IPC to the pool, SQLite)": cpu["crawl"],
             "fork server (extraction code imported once)": cpu["forkserver"],
             "extraction workers": cpu["worker"],
             "other children (resource tracker)": cpu["other"],
             "local web server (bench process)": full["server_cpu"]}  # type: ignore[dict-item]
    print(f"    CPU seconds (per page) by role; wall {wall:.1f} s x {cpus()} CPUs = {wall * cpus():.1f} available:")
    for name, seconds in roles.items():
        print(f"      {name:<68} {seconds:7.1f}  ({seconds / pages:.4f} s/page)")
    print(f"      {'crawl tree in all':<68} {sum(cpu.values()):7.1f}  ({sum(cpu.values()) / pages:.4f} s/page)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2064, help="article pages on the site (>= 2000)")
    parser.add_argument("--feeds", type=int, default=8, help="RSS feeds listing them")
    parser.add_argument("--extract-pages", type=int, default=0,
                        help="pages for (b) and (b'): 0 (default) = every page of the site, as (c) sees them")
    parser.add_argument("--only-crawl", action="store_true", help="skip (b) and (b')")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--site", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main()
