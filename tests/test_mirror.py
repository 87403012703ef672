"""Tests for tests/mirror.py, the loopback mirror of real outlet URLs."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request

import pytest

try:
    from tests.mirror import Mirror, MirrorRequest, normalize_url
except ImportError:  # tests/ is not a package: pytest puts tests/ on sys.path
    from mirror import Mirror, MirrorRequest, normalize_url


VI_PAGE = "<html><head><title>Khu công nghiệp</title></head><body>Đồng Nai mở rộng KCN</body></html>"


def _no_verify() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def _opener(mirror: Mirror, *, follow_redirects: bool = True) -> urllib.request.OpenerDirector:
    handlers: list = [
        urllib.request.ProxyHandler({"http": mirror.proxy_url, "https": mirror.proxy_url}),
        urllib.request.HTTPSHandler(context=_no_verify()),
    ]
    if not follow_redirects:
        handlers.append(_NoRedirect())
    return urllib.request.build_opener(*handlers)


def _fetch(opener, url: str, method: str = "GET"):  # noqa: ANN001
    req = urllib.request.Request(url, method=method)
    try:
        with opener.open(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read(), resp.url
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read(), err.url


@pytest.fixture
def mirror():
    with Mirror() as m:
        yield m


# --------------------------------------------------------------------------- #
# Unit-level behaviour
# --------------------------------------------------------------------------- #


def test_normalize_url():
    assert normalize_url("https://VnExpress.net:443/a") == "https://vnexpress.net/a"
    assert normalize_url("http://Example.VN:80") == "http://example.vn/"
    assert normalize_url("http://example.vn:8080/x?b=1&a=2#frag") == "http://example.vn:8080/x?b=1&a=2"
    assert normalize_url("https://x.vn/tin-tức") == normalize_url("https://x.vn/tin-t%e1%bb%a9c")
    assert normalize_url("https://x.vn/a") != normalize_url("http://x.vn/a")
    with pytest.raises(ValueError):
        normalize_url("ftp://x.vn/a")


def test_proxy_env_and_url(mirror):
    assert mirror.proxy_url.startswith("http://127.0.0.1:")
    assert mirror.proxy_url == f"http://127.0.0.1:{mirror.port}"
    env = mirror.proxy_env()
    assert env == {
        "http_proxy": mirror.proxy_url,
        "https_proxy": mirror.proxy_url,
        "HTTP_PROXY": mirror.proxy_url,
        "HTTPS_PROXY": mirror.proxy_url,
        "no_proxy": "",
        "NO_PROXY": "",
    }


def test_plain_http_proxy_fetch(mirror):
    mirror.add("http://baodautu.vn/kcn-1.html", VI_PAGE)
    opener = _opener(mirror)
    status, headers, body, _ = _fetch(opener, "http://BaoDauTu.vn:80/kcn-1.html")
    assert status == 200
    assert body.decode("utf-8") == VI_PAGE
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(headers["Content-Length"]) == len(VI_PAGE.encode("utf-8"))

    status, _, body, _ = _fetch(opener, "http://baodautu.vn/unknown.html")
    assert status == 404
    assert b"not mirrored" in body

    # HEAD: headers, no body
    status, headers, body, _ = _fetch(opener, "http://baodautu.vn/kcn-1.html", method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == len(VI_PAGE.encode("utf-8"))

    assert mirror.requests == [
        MirrorRequest("GET", "http://baodautu.vn/kcn-1.html", 200),
        MirrorRequest("GET", "http://baodautu.vn/unknown.html", 404),
        MirrorRequest("HEAD", "http://baodautu.vn/kcn-1.html", 200),
    ]
    assert mirror.hits("http://baodautu.vn/kcn-1.html") == 1  # HEAD not counted
    assert mirror.tunnels == []


def test_https_through_connect(mirror):
    mirror.add("https://vnexpress.net/kcn-2.html", VI_PAGE.encode("utf-8"))
    mirror.add("https://vnexpress.net/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    opener = _opener(mirror)
    status, headers, body, _ = _fetch(opener, "https://vnexpress.net/kcn-2.html")
    assert status == 200 and body.decode("utf-8") == VI_PAGE
    status, headers, body, _ = _fetch(opener, "https://vnexpress.net/robots.txt")
    assert status == 200 and body.startswith(b"User-agent")
    assert headers["Content-Type"] == "text/plain"
    status, _, _, _ = _fetch(opener, "https://tuoitre.vn/robots.txt")
    assert status == 404
    # http and https are different keys
    status, _, _, _ = _fetch(opener, "http://vnexpress.net/kcn-2.html")
    assert status == 404

    assert [(r.method, r.url, r.status) for r in mirror.requests] == [
        ("GET", "https://vnexpress.net/kcn-2.html", 200),
        ("GET", "https://vnexpress.net/robots.txt", 200),
        ("GET", "https://tuoitre.vn/robots.txt", 404),
        ("GET", "http://vnexpress.net/kcn-2.html", 404),
    ]
    assert mirror.tunnels == ["vnexpress.net:443", "vnexpress.net:443", "tuoitre.vn:443"]
    assert mirror.hits("https://VNEXPRESS.net:443/kcn-2.html") == 1


def test_keep_alive_inside_tunnel(mirror):
    """Several requests over one CONNECT tunnel (what Scrapy's pool does)."""
    mirror.add("https://vnexpress.net/a", "A")
    mirror.add("https://vnexpress.net/b", "BB")
    conn = http.client.HTTPSConnection("127.0.0.1", mirror.port, context=_no_verify(), timeout=5)
    conn.set_tunnel("vnexpress.net", 443)
    try:
        got = []
        for path in ("/a", "/b", "/missing", "/a"):
            conn.request("GET", path)
            resp = conn.getresponse()
            got.append((resp.status, resp.read()))
    finally:
        conn.close()
    assert got == [(200, b"A"), (200, b"BB"), (404, got[2][1]), (200, b"A")]
    assert mirror.tunnels == ["vnexpress.net:443"]
    assert mirror.hits("https://vnexpress.net/a") == 2


def test_keep_alive_plain_proxy(mirror):
    mirror.add("http://a.vn/1", "one")
    mirror.add("http://b.vn/2", "two")
    conn = http.client.HTTPConnection("127.0.0.1", mirror.port, timeout=5)
    try:
        got = []
        for url in ("http://a.vn/1", "http://b.vn/2", "http://a.vn/1"):
            conn.request("GET", url)
            resp = conn.getresponse()
            assert resp.getheader("Connection") == "keep-alive"
            got.append(resp.read())
        # Connection: close is honoured
        conn.request("GET", "http://b.vn/2", headers={"Connection": "close"})
        resp = conn.getresponse()
        assert resp.getheader("Connection") == "close"
        got.append(resp.read())
    finally:
        conn.close()
    assert got == [b"one", b"two", b"one", b"two"]


def test_redirects_custom_status_and_headers(mirror):
    mirror.add_redirect("https://vnexpress.net/old", "https://vnexpress.net/new")
    mirror.add_redirect("http://baodautu.vn/r", "/target", status=302)
    mirror.add("https://vnexpress.net/new", "new page")
    mirror.add("http://baodautu.vn/target", "target page")
    mirror.add(
        "https://vnexpress.net/gone",
        "gone",
        status=410,
        content_type="text/plain; charset=utf-8",
        headers={"X-Test": "yes", "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
    )

    raw = _opener(mirror, follow_redirects=False)
    status, headers, _, _ = _fetch(raw, "https://vnexpress.net/old")
    assert status == 301 and headers["Location"] == "https://vnexpress.net/new"
    status, headers, _, _ = _fetch(raw, "http://baodautu.vn/r")
    assert status == 302 and headers["Location"] == "/target"

    follow = _opener(mirror)
    status, _, body, final = _fetch(follow, "https://vnexpress.net/old")
    assert (status, body, final) == (200, b"new page", "https://vnexpress.net/new")
    status, _, body, final = _fetch(follow, "http://baodautu.vn/r")
    assert (status, body, final) == (200, b"target page", "http://baodautu.vn/target")

    status, headers, body, _ = _fetch(raw, "https://vnexpress.net/gone")
    assert status == 410 and body == b"gone"
    assert headers["X-Test"] == "yes"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Last-Modified"] == "Mon, 01 Jan 2024 00:00:00 GMT"

    assert mirror.hits("https://vnexpress.net/old") == 2
    assert mirror.hits("https://vnexpress.net/new") == 1


def test_replace_remove_and_reset_log(mirror):
    url = "https://vnexpress.net/x"
    opener = _opener(mirror)
    mirror.add(url, "v1")
    assert _fetch(opener, url)[2] == b"v1"
    mirror.add(url, "v2")
    assert _fetch(opener, url)[2] == b"v2"
    mirror.remove(url)
    assert _fetch(opener, url)[0] == 404
    mirror.remove(url)  # idempotent
    assert mirror.hits(url) == 3
    assert [r.status for r in mirror.requests] == [200, 200, 404]
    mirror.reset_log()
    assert mirror.requests == [] and mirror.tunnels == [] and mirror.hits(url) == 0


def test_direct_origin_form_requests(mirror):
    mirror.add("http://baodautu.vn/p", "plain")
    mirror.add("https://vnexpress.net/s", "secure")
    conn = http.client.HTTPConnection("127.0.0.1", mirror.port, timeout=5)
    try:
        results = []
        for host, path in (("baodautu.vn", "/p"), ("vnexpress.net", "/s"), ("unknown.vn", "/p")):
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            results.append((resp.status, resp.read()))
    finally:
        conn.close()
    assert results[:2] == [(200, b"plain"), (200, b"secure")]
    assert results[2][0] == 404
    assert [r.url for r in mirror.requests] == [
        "http://baodautu.vn/p",
        "https://vnexpress.net/s",
        "http://unknown.vn/p",
    ]


def test_concurrent_requests_log_is_complete(mirror):
    for i in range(20):
        mirror.add(f"https://vnexpress.net/{i}", str(i))
    opener = _opener(mirror)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            assert _fetch(opener, f"https://vnexpress.net/{i}")[2] == str(i).encode()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(mirror.requests) == 20
    assert all(mirror.hits(f"https://vnexpress.net/{i}") == 1 for i in range(20))


def test_stop_closes_idle_keep_alive_connections():
    before = set(threading.enumerate())
    m = Mirror().start()
    m.add("https://vnexpress.net/a", "A")
    conn = http.client.HTTPSConnection("127.0.0.1", m.port, context=_no_verify(), timeout=5)
    conn.set_tunnel("vnexpress.net", 443)
    conn.request("GET", "/a")
    assert conn.getresponse().read() == b"A"
    # the tunnel stays open (keep-alive) while we stop the mirror
    port = m.port
    m.stop()
    conn.close()
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
    with pytest.raises(OSError):  # the listening socket is closed
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
    m.stop()  # idempotent


# --------------------------------------------------------------------------- #
# THE KEY TEST: the real Scrapy engine, proxied only by environment variables
# --------------------------------------------------------------------------- #

SPIDER_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import scrapy
    from scrapy.crawler import CrawlerProcess

    OUT = sys.argv[1]
    URLS = json.loads(sys.argv[2])


    class MirrorSpider(scrapy.Spider):
        name = "mirror_probe"
        custom_settings = {"HTTPERROR_ALLOW_ALL": True}

        async def start(self):
            for url in URLS:
                yield scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True)

        def _write(self, record):
            with open(OUT, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\\n")

        def parse(self, response):
            self._write(
                {
                    "requested": response.request.meta.get("redirect_urls", [response.url])[0],
                    "url": response.url,
                    "status": response.status,
                    "length": len(response.body),
                    "text": response.text,
                    "proxy": response.request.meta.get("proxy"),
                    "x_test": response.headers.get("X-Test", b"").decode(),
                }
            )

        def failed(self, failure):
            self._write({"requested": failure.request.url, "error": repr(failure.value)})


    process = CrawlerProcess(
        settings={
            "ROBOTSTXT_OBEY": True,
            "DOWNLOAD_TIMEOUT": 5,
            "RETRY_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "CLOSESPIDER_TIMEOUT": 30,
            "LOG_LEVEL": "INFO",
            "USER_AGENT": "kcn-archive-test",
        }
    )
    process.crawl(MirrorSpider)
    process.start()
    """
)


def test_scrapy_engine_fetches_through_mirror_via_proxy_env(mirror, tmp_path):
    pages = {
        "https://vnexpress.net/kinh-doanh/khu-cong-nghiep-1.html": VI_PAGE,
        "https://tuoitre.vn/kcn-dong-nai-2.htm": "<html><body>Tuổi Trẻ: KCN Đồng Nai</body></html>",
        "http://baodautu.vn/ccn-3.html": "<html><body>Báo Đầu tư: cụm công nghiệp</body></html>",
    }
    for url, body in pages.items():
        mirror.add(url, body, headers={"X-Test": "mirror"})
    # robots.txt: one host allows all, one disallows a path, one is unregistered (404 -> allowed)
    mirror.add("https://vnexpress.net/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    mirror.add("http://baodautu.vn/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    blocked = "https://vnexpress.net/private/secret.html"
    mirror.add(blocked, "must not be fetched")

    out = tmp_path / "out.jsonl"
    script = tmp_path / "probe_spider.py"
    script.write_text(SPIDER_SCRIPT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(mirror.proxy_env())
    env.pop("SCRAPY_SETTINGS_MODULE", None)

    proc = subprocess.run(
        [sys.executable, str(script), str(out), json.dumps([*pages, blocked])],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_url = {r["requested"]: r for r in records}
    assert set(by_url) == {*pages, blocked}, (records, proc.stderr[-4000:])
    assert "Forbidden by robots.txt" in by_url[blocked]["error"]
    for url, body in pages.items():
        rec = by_url[url]
        assert "error" not in rec, rec
        assert rec["url"] == url  # the archive sees the outlet's original URL
        assert rec["status"] == 200
        assert rec["length"] == len(body.encode("utf-8"))
        assert rec["text"] == body
        assert rec["proxy"] == mirror.proxy_url
        assert rec["x_test"] == "mirror"
        assert mirror.hits(url) == 1

    # robots.txt was fetched through the mirror, once per host
    for robots in (
        "https://vnexpress.net/robots.txt",
        "https://tuoitre.vn/robots.txt",
        "http://baodautu.vn/robots.txt",
    ):
        assert mirror.hits(robots) == 1, mirror.requests
    assert MirrorRequest("GET", "https://tuoitre.vn/robots.txt", 404) in mirror.requests
    # robots.txt Disallow was obeyed: the blocked page never reached the mirror
    assert mirror.hits(blocked) == 0

    # nothing left loopback: every request and tunnel is for a mirrored host
    mirrored_hosts = {"vnexpress.net", "tuoitre.vn", "baodautu.vn"}
    for req in mirror.requests:
        assert req.url.split("/")[2] in mirrored_hosts, req
        assert req.method == "GET"
    assert mirror.tunnels and all(t in {"vnexpress.net:443", "tuoitre.vn:443"} for t in mirror.tunnels)
    assert len(mirror.requests) == 6
