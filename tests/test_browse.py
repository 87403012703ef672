"""`kcn serve`: a real Datasette subprocess over a real archive, queried over loopback HTTP."""
from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from archive.db import Archive
from archive.search import search_ids
from scheduler.cli import main
from tests.site import FIXTURES

SEEDS = FIXTURES / "seeds"
THANG_LONG_URL = "https://vnexpress.net/kcn-thang-long-don-nha-dau-tu-4999001.html"
DINH_VU_URL = "https://cafef.vn/kkt-dinh-vu-cat-hai-188240101.chn"


def _paragraphs(name: str) -> list[str]:
    text = (SEEDS / name).read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n\n")[2:] if len(p.strip()) > 80]


def _build(db: Path) -> None:
    """The 5 real seed articles imported, plus two crawled-style ones made of real paragraphs."""
    result = CliRunner().invoke(main, ["import", str(SEEDS), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with Archive(db) as archive:
        archive.add_article({
            "url": THANG_LONG_URL, "outlet": "vnexpress", "published": "2025-03-14T08:00:00+07:00",
            "title": "KCN Thăng Long đón thêm nhà đầu tư Nhật Bản",
            "text": "\n\n".join(["Khu công nghiệp Thăng Long (Đông Anh, Hà Nội) có thêm dự án mới.",
                                 *_paragraphs("003_8c76eeee69b89019.txt")[:4]]),
            "relevance_terms": {"khu công nghiệp": 3, "named: KCN Thăng Long": 1}})
        archive.add_article({
            "url": DINH_VU_URL, "outlet": "cafef", "published": "2025-02-01T09:30:00+07:00",
            "title": "Hải Phòng thu hút vốn vào Khu kinh tế Đình Vũ - Cát Hải",
            "text": "\n\n".join(_paragraphs("004_c29c595c5ac2d704.txt")[:5]),
            "relevance_terms": {"khu kinh tế": 2}})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, db: Path, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from scheduler.browse import serve; serve(sys.argv[1:])",
             "--db", str(db), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/-/versions.json")
                return
            except OSError:
                assert self.proc.poll() is None, self.proc.stderr.read()
                time.sleep(0.2)
        raise TimeoutError("datasette did not start")

    def request(self, path: str, data: bytes | None = None, method: str = "GET"):
        req = urllib.request.Request(self.base + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def get(self, path: str) -> str:
        status, body = self.request(path)
        assert status == 200, (path, status, body[:500])
        return body

    def json(self, path: str, **params) -> dict | list:
        sep = "&" if "?" in path else "?"
        return json.loads(self.get(path + (sep + urllib.parse.urlencode(params) if params else "")))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("browse") / "data" / "archive.db"
    _build(db)
    return db


@pytest.fixture(scope="module")
def server(archive_db):
    srv = Server(archive_db, _free_port())
    yield srv
    srv.stop()


def _articles(db: Path) -> list[dict]:
    with Archive(db, readonly=True) as archive:
        return list(archive.db.query("select * from articles"))


def _search(server: Server, query: str) -> list[dict]:
    data = server.json("/archive/articles.json", _search=query, _shape="objects", _size="max")
    return data["rows"]


def test_accent_free_search_finds_accented_articles(server, archive_db):
    articles = _articles(archive_db)
    with_phrase = {a["id"] for a in articles if "khu công nghiệp" in f"{a['title']} {a['text']}".lower()}
    found = {r["id"] for r in _search(server, "khu cong nghiep")}
    assert with_phrase and with_phrase <= found
    assert found == {r["id"] for r in _search(server, "khu công nghiệp")}
    with Archive(archive_db, readonly=True) as archive:
        assert found == set(search_ids(archive.db, "khu cong nghiep"))
    page = server.get("/archive/articles?" + urllib.parse.urlencode({"_search": "khu cong nghiep"}))
    for a in articles:
        if a["id"] in found:
            assert str(escape(a["title"])) in page


def test_d_with_stroke_and_named_zone_search(server):
    def ids(query):
        return {r["url"] for r in _search(server, query)}

    assert DINH_VU_URL in ids("dinh vu cat hai") and DINH_VU_URL in ids("Đình Vũ Cát Hải")
    assert ids("dinh vu cat hai") == ids("Đình Vũ Cát Hải")
    assert THANG_LONG_URL in ids("KCN Thăng Long")
    assert ids("KCN Thăng Long") == ids("kcn thang long")  # every word, anywhere
    phrase = {r["url"] for r in server.json("/archive/articles.json", _search='"KCN Thăng Long"',
                                            _searchmode="raw", _shape="objects")["rows"]}
    assert phrase == {THANG_LONG_URL}
    assert ids("xyzzy") == set()


def _facets(server: Server, **params) -> dict:
    data = server.json("/archive/articles.json", _size=0, **params)
    return {name: {v["value"]: v for v in f["results"]} for name, f in data["facet_results"].items()}


def test_facets_count_like_the_archive(server, archive_db):
    with Archive(archive_db, readonly=True) as archive:
        by_outlet = archive.counts()["by_outlet"]
    # outlet and month are shown by default; zone and relevance term one click away.
    facets = _facets(server, _facet_zone="id", _facet_term="relevance_terms")
    assert {k: v["count"] for k, v in facets["outlet"].items()} == by_outlet
    assert facets["month published"]["2025-03"]["count"] == 1
    assert facets["relevance term"]["named: KCN Thăng Long"]["count"] == 1
    zone = facets["zone"]["Khu công nghiệp Thăng Long"]
    assert zone["count"] == 1
    # Click through: the facet link lists exactly the articles about that zone.
    link = urllib.parse.urlsplit(zone["toggle_url"])
    query = [(k, v) for k, v in urllib.parse.parse_qsl(link.query) if k != "_size"]
    rows = server.json(f"{link.path}?{urllib.parse.urlencode(query)}", _shape="objects")["rows"]
    assert [r["url"] for r in rows] == [THANG_LONG_URL]
    searched = _facets(server, _search="dinh vu cat hai")
    assert searched["outlet"]["cafef"]["count"] == 1 and "vnexpress" not in searched["outlet"]


def test_canned_queries_run(server):
    for name in ("latest_articles", "articles_per_outlet_month", "zone_counts", "runs", "outlet_health"):
        assert isinstance(server.json(f"/archive/{name}.json", _shape="array"), list), name
    latest = server.json("/archive/latest_articles.json", _shape="array")
    assert latest[0]["url"] == THANG_LONG_URL  # newest published first
    about = server.json("/archive/articles_about_zone.json", zone="KCN Thăng Long", _shape="array")
    assert [r["zone"] for r in about] == ["Khu công nghiệp Thăng Long"]
    about = server.json("/archive/articles_about_zone.json", zone="Đình Vũ", _shape="array")
    assert {r["zone"] for r in about} == {"Khu kinh tế Đình Vũ - Cát Hải"}
    health = {r["outlet"]: r for r in server.json("/archive/outlet_health.json", _shape="array")}
    assert health["cafef"]["articles"] == 1 and health["legacy"]["articles"] == 5


def test_writes_are_refused(server, archive_db):
    before = len(_articles(archive_db))
    for path in ("/archive/articles", "/archive/latest_articles", "/archive/-/create", "/-/logout"):
        assert server.request(path, data=b"title=x", method="POST")[0] == 405, path
    def sql(statement):
        return server.request("/archive.json?" + urllib.parse.urlencode({"sql": statement}))

    assert sql("insert into zones(name, kind) values ('x', 'KCN')")[0] == 400
    assert sql("select 1; delete from articles")[0] == 400
    # A CTE delete passes Datasette's SELECT check; the read-only connection stops it.
    data = json.loads(sql("with x as (select 1) delete from articles")[1])
    assert data["ok"] is False and "readonly" in data["error"]
    assert len(_articles(archive_db)) == before


def test_datasette_write_connection_is_read_only_too(archive_db):
    from scheduler.browse import make_datasette

    async def attempt():
        db = make_datasette(archive_db).get_database("archive")
        await db.execute_write("delete from articles")

    with pytest.raises(Exception, match="readonly|read-only|query_only"):
        asyncio.run(attempt())


def test_article_page_reads_well(server, archive_db):
    article = next(a for a in _articles(archive_db) if a["url"] == THANG_LONG_URL)
    page = server.get(f"/archive/articles/{article['id']}")
    paragraphs = article["text"].split("\n\n")
    assert len(paragraphs) >= 3
    for para in paragraphs:
        assert f"<p>{escape(para)}</p>" in page
    assert f'class="kcn-original" href="{THANG_LONG_URL}"' in page
    assert f"texts/{article['filename']}" in page
    assert f"<h1>{escape(article['title'])}</h1>" in page


def test_serving_while_a_crawl_writes(server, archive_db):
    url = "https://vnexpress.net/ccn-vong-xuyen-5000001.html"
    with Archive(archive_db) as archive:  # the crawler's writer, while the server reads
        stored = archive.add_article({
            "url": url, "outlet": "vnexpress", "published": "2025-04-01T07:00:00+07:00",
            "title": "CCN Võng Xuyên hoàn thành hạ tầng",
            "text": "\n\n".join(["Cụm công nghiệp Võng Xuyên đã hoàn thành hạ tầng kỹ thuật.",
                                 *_paragraphs("001_4639de4832d03e1b.txt")[:2]])})
        rows = _search(server, "vong xuyen ha tang")
        assert [r["id"] for r in rows] == [stored.id]
        about = server.json("/archive/articles_about_zone.json", zone="CCN Võng Xuyên", _shape="array")
        assert [r["id"] for r in about] == [stored.id]
        archive.db.execute("delete from articles where id = ?", [stored.id])
    assert _search(server, "vong xuyen ha tang") == []


def test_older_archive_gets_search_and_zones_on_open(tmp_path):
    db = tmp_path / "archive.db"
    _build(db)
    with Archive(db) as archive:
        for name in ("articles_fts_ai", "articles_fts_ad", "articles_fts_au", "article_zones_ad"):
            archive.db.execute(f"drop trigger {name}")
        archive.db.execute("drop table articles_fts")
        archive.db.execute("drop table article_zones")
    with Archive(db) as archive:  # what `kcn serve` does before serving
        def urls(query):
            ids = search_ids(archive.db, query)
            return {r["url"] for r in archive.db.query(
                f"select url from articles where id in ({','.join('?' * len(ids))})", ids)}

        assert DINH_VU_URL in urls("dinh vu cat hai")
        assert archive.db["article_zones"].count >= 3
        archive.db.execute("delete from articles where url = ?", [DINH_VU_URL])
        assert DINH_VU_URL not in urls("dinh vu cat hai") and urls("dinh vu cat hai")


def test_search_sql_is_tuned_without_changing_results(archive_db, monkeypatch):
    """Datasette's own search SQL gets the fast plans (index walk, FTS count); same answers."""
    from scheduler import browse

    rewritten = []

    def spy(sql):
        tuned = real(sql)
        if tuned != sql:
            rewritten.append(tuned)
        return tuned

    real = browse.tune_search_sql
    monkeypatch.setattr(browse, "tune_search_sql", spy)

    async def fetch():
        client = browse.make_datasette(archive_db).client
        response = await client.get("/archive/articles.json?_search=khu+cong+nghiep&_shape=objects&_nofacet=1")
        return response.json()

    data = asyncio.run(fetch())
    assert any("indexed by idx_articles_published" in s for s in rewritten)
    assert any(s.startswith("select count(*) from articles_fts") for s in rewritten)
    with Archive(archive_db, readonly=True) as archive:
        ids = search_ids(archive.db, "khu cong nghiep")
        plain = list(archive.db.query(
            f"select id, published from articles where id in ({','.join('?' * len(ids))}) "
            "order by published desc", ids))
    assert data["filtered_table_rows_count"] == len(plain)
    assert [r["published"] for r in data["rows"]] == [r["published"] for r in plain]
    assert {r["id"] for r in data["rows"]} == {r["id"] for r in plain}


def test_reindex_command_rebuilds_search_and_zones(tmp_path):
    import click

    from scheduler.browse import reindex, serve

    group = click.Group(commands={"serve": serve, "reindex": reindex})  # as `kcn` registers them
    db = tmp_path / "archive.db"
    _build(db)
    with Archive(db) as archive:
        archive.db.execute("insert into articles_fts(articles_fts) values ('delete-all')")
        archive.db.execute("delete from article_zones")
        assert search_ids(archive.db, "khu cong nghiep") == []
    result = CliRunner().invoke(group, ["reindex", "--db", str(db)])
    assert result.exit_code == 0 and "reindexed 7 articles" in result.output, result.output
    with Archive(db, readonly=True) as archive:
        assert len(search_ids(archive.db, "khu cong nghiep")) >= 3
        assert archive.db["article_zones"].count >= 3
    assert "--port" in CliRunner().invoke(group, ["serve", "--help"]).output
    missing = CliRunner().invoke(group, ["serve", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code != 0 and "no archive" in missing.output
