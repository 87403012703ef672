"""The archive's Python API: the only code that writes the SQLite archive.

Layout beside the database file: ``texts/NNN_<16 hex>.txt``, one per article.
Every write is one transaction; a text file is written (atomically) before the
row that names it is committed.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlite_utils
from sqlite_utils.db import NotFoundError, jsonify_if_needed, quote_identifier

from archive.schema import ensure_schema
from archive.texts import content_hash, render_text_file, text_filename, write_atomically
from archive.stories import DEFAULT_THRESHOLD as DEFAULT_NEAR_THRESHOLD
from archive.stories import NearDuplicate, NearDuplicateIndex, signature
from archive.warc import RawPage, WarcPointer, WarcStore
from archive.zones import index_zone_mentions
from crawler.urls import is_http_url, normalize_url

DEFAULT_DB = Path("data/archive.db")

# seen_urls.status values: what became of a fetched URL.
ARCHIVED = "archived"
DUPLICATE = "duplicate"
NOT_RELEVANT = "not_relevant"
FAILED = "failed"   # transient or unexplained: retried on the next crawl
GONE = "gone"       # HTTP 404/410: the outlet removed the page
BLOCKED = "blocked" # robots.txt disallows it: asked again only if robots.txt changes
# Statuses that mean "do not fetch this URL again on a daily crawl".
SETTLED = (ARCHIVED, DUPLICATE, NOT_RELEVANT, GONE)


VN_OFFSET = timedelta(hours=7)  # publish dates are Vietnam time
REVISIT_AFTER_HOURS = 12


def default_db_path() -> Path:
    """``$KCN_DB`` when set, else ``./data/archive.db``."""
    return Path(os.environ.get("KCN_DB") or DEFAULT_DB)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StoredArticle:
    id: int
    filename: str
    content_hash: str
    story_id: int | None = None
    near_duplicate: NearDuplicate | None = None


class Archive:
    """An open archive. Use as a context manager, or call ``close()``."""

    def __init__(self, path: Path | str, *, readonly: bool = False,
                 near_threshold: float = DEFAULT_NEAR_THRESHOLD) -> None:
        self.path = Path(path)
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no archive at {self.path}")
            uri = f"file:{self.path.resolve()}?mode=ro"
            self.db = sqlite_utils.Database(sqlite3.connect(uri, uri=True))
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(self.path)
            self.db.enable_wal()
            # WAL + NORMAL: a crash never corrupts or loses a commit; a power cut may lose
            # the last few (their text files then show up as orphans in `kcn check`). The
            # text files are not synced either (``_write_text``).
            self.db.execute("PRAGMA synchronous = NORMAL")
            ensure_schema(self.db)
        self.db.execute("PRAGMA busy_timeout = 30000")
        self.texts_dir = self.path.parent / "texts"
        self.warc = WarcStore(self.path.parent / "warc")
        self.near = NearDuplicateIndex(self.db, near_threshold)
        if not readonly:
            self.near.migrate(self.path.parent)
        self.readonly = readonly

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # --- reads -----------------------------------------------------------

    def seen_status(self, url: str) -> str | None:
        """What became of ``url`` last time it was fetched (None: never fetched)."""
        rows = self.db.execute(
            "select status from seen_urls where url_key = ?", [normalize_url(url)]
        ).fetchall()
        return rows[0][0] if rows else None

    def needs_fetch(self, url: str, revisit_days: int = 0) -> bool:
        """Whether a crawl should fetch ``url``: never fetched, failed last time,
        or an archived article published in the last ``revisit_days`` days and
        not checked for edits in the last ``REVISIT_AFTER_HOURS`` hours."""
        row = self._one(SEEN_FOR_FETCH + " where s.url_key = ?", normalize_url(url))
        return _needs_fetch(row, revisit_days)

    def settled_keys(self, revisit_days: int = 0):
        """URL keys a crawl need not fetch now (seeds a distributed run's shared set)."""
        for row in self.db.query(SEEN_FOR_FETCH + " where s.status in (%s)" % ",".join("?" * len(SETTLED)),
                                 SETTLED):
            if not _needs_fetch(row, revisit_days):
                yield row["url_key"]

    def content_hashes(self):
        """(content hash, article id, url) of every article (seeds a distributed run's dedup)."""
        return self.db.execute("select content_hash, id, url from articles").fetchall()

    def seen_since(self, url: str, moment: str) -> bool:
        """Whether ``url``'s outcome was recorded at or after ``moment`` (ISO, UTC)."""
        row = self._one("select last_fetched from seen_urls where url_key = ?", normalize_url(url))
        return bool(row) and (row["last_fetched"] or "") >= moment

    def article_by_url(self, url: str) -> dict | None:
        return self._one("select * from articles where url_key = ?", normalize_url(url))

    def article_by_hash(self, digest: str) -> dict | None:
        return self._one("select * from articles where content_hash = ?", digest)

    def article(self, article_id: int) -> dict | None:
        return self._one("select * from articles where id = ?", article_id)

    def _one(self, sql: str, *params) -> dict | None:
        rows = list(self.db.query(sql, params))
        return rows[0] if rows else None

    def history(self, url: str) -> list[dict]:
        """Every text the article at ``url`` has had, oldest first, the current one last."""
        article = self.article_by_url(url)
        if article is None:
            return []
        versions = list(self.db.query(
            "select fetched_at, content_hash, title, text from versions where article_id = ? order by id",
            [article["id"]]))
        current = {key: article[key] for key in ("fetched_at", "content_hash", "title", "text")}
        return [*versions, current]

    def counts(self) -> dict:
        """Totals for ``kcn stats``."""
        articles = self.db["articles"]
        by_outlet = {
            row["outlet"]: row["n"]
            for row in self.db.query(
                "select outlet, count(*) as n from articles group by outlet order by n desc")
        }
        by_status = {
            row["status"]: row["n"]
            for row in self.db.query("select status, count(*) as n from seen_urls group by status")
        }
        return {"articles": articles.count, "by_outlet": by_outlet, "seen_urls": by_status,
                "runs": self.db["crawl_runs"].count}

    # --- writes ----------------------------------------------------------

    def add_article(self, fields: dict) -> StoredArticle:
        """Insert a new article with its text file; records its URL as archived.

        ``fields`` holds the article columns (url, outlet, title, text, ...);
        ``content_hash``, ``filename`` and timestamps are computed here.
        """
        row = self._row(fields)
        minhash = signature(row["text"])
        near = self.near.find(minhash)
        if near:
            row.update(near_duplicate_of=near.article_id, similarity=near.similarity)
        with self.db.atomic():
            article_id = self._insert("articles", row)
            filename = text_filename(article_id, row["content_hash"])
            self._write_text(filename, row)
            story_id = self._join_story(article_id, row.get("published"), near)
            self._update("articles", article_id, {"filename": filename, "story_id": story_id})
            self.near.add(article_id, minhash)
            index_zone_mentions(self.db, article_id, row)
            if is_http_url(row["url"]):  # imports have no fetchable URL
                reason = "new article" + (
                    f", near-duplicate of article {near.article_id} (similarity {near.similarity:.2f}),"
                    f" grouped in story {story_id}" if near else "")
                self._mark_seen(row["url"], row.get("outlet"), ARCHIVED, reason, article_id,
                                warc=_pointer(row))
        return StoredArticle(article_id, filename, row["content_hash"], story_id, near)

    def _write_text(self, filename: str, row: dict) -> None:
        """The row's text file, written atomically but not fsynced: it renders the row, which
        is the truth, and the row's own commit is not synced (synchronous=NORMAL). After a
        power cut, `kcn check` reports a missing or cut file and `--repair` rewrites it from
        the row; two fsyncs per article would buy nothing more, and they block the crawl."""
        write_atomically(self.texts_dir / filename, render_text_file(row.get("title"), row["text"]), sync=False)

    def _join_story(self, article_id: int, published: str | None, near: NearDuplicate | None) -> int:
        """The story this article belongs to; its representative is the earliest-published copy."""
        if near is None:
            return self._insert("stories", {"representative_id": article_id, "first_published": published,
                                            "articles": 1})
        story = self._one("select s.* from stories s join articles a on a.story_id = s.id where a.id = ?",
                          near.article_id)
        earlier = published and (not story["first_published"] or published < story["first_published"])
        self._update("stories", story["id"], {
            "articles": story["articles"] + 1,
            **({"representative_id": article_id, "first_published": published} if earlier else {})})
        return story["id"]

    @staticmethod
    def _row(fields: dict) -> dict:
        """Article columns from ``fields`` plus the computed key, hash and times."""
        now = utc_now()
        row = {**fields, "url_key": fields.get("url_key") or normalize_url(fields["url"]),
               "content_hash": content_hash(fields["text"]),
               "fetched_at": fields.get("fetched_at") or now, "last_checked": now}
        for key in ("tags", "relevance_terms"):
            if isinstance(row.get(key), (list, dict)):
                row[key] = json.dumps(row[key], ensure_ascii=False)
        return row

    def update_article(self, article_id: int, fields: dict) -> StoredArticle:
        """A known article whose text changed: the old text becomes a version,
        the row and its text file show the latest."""
        old = self.article(article_id)
        row = self._row(fields)
        filename = text_filename(article_id, row["content_hash"])
        with self.db.atomic():
            self._insert("versions", {
                "article_id": article_id, "fetched_at": old["fetched_at"], "replaced_at": row["last_checked"],
                "content_hash": old["content_hash"], "title": old["title"], "text": old["text"]})
            self._write_text(filename, row)
            self._update("articles", article_id, {**row, "filename": filename})
            self.near.add(article_id, signature(row["text"]))
            index_zone_mentions(self.db, article_id, row)
            self._mark_seen(row["url"], row.get("outlet"), ARCHIVED, "text changed: new version",
                            article_id, warc=_pointer(row))
        if old["filename"] and old["filename"] != filename:
            (self.texts_dir / old["filename"]).unlink(missing_ok=True)
        return StoredArticle(article_id, filename, row["content_hash"])

    def touch_article(self, article_id: int, url: str, outlet: str | None,
                      warc: WarcPointer | None = None) -> None:
        """A known article fetched again with unchanged text: only the check time moves."""
        with self.db.atomic():
            self._update("articles", article_id, {"last_checked": utc_now()})
            self._mark_seen(url, outlet, ARCHIVED, "fetched again: text unchanged", article_id,
                            warc=warc)

    def record_seen(self, url: str, outlet: str | None, status: str, reason: str,
                    *, article_id: int | None = None, http_status: int | None = None,
                    warc: WarcPointer | None = None) -> None:
        """Remember what became of a fetched URL, with the reason (users ask why)."""
        with self.db.atomic():
            if status == GONE:
                article_id = self._mark_gone(url) or article_id
            self._mark_seen(url, outlet, status, reason, article_id, http_status, warc)

    def _mark_gone(self, url: str) -> int | None:
        """An archived article whose page disappeared is marked gone, never deleted."""
        article = self.article_by_url(url)
        if article is None:
            return None
        if not article["gone_at"]:
            self._update("articles", article["id"], {"gone_at": utc_now()})
        return article["id"]

    def keep_raw(self, page: RawPage) -> WarcPointer:
        """Append the fetched response to the WARC store (before any row points at it)."""
        return self.warc.append(page)

    def raw_page(self, row: dict) -> RawPage:
        """The raw response an article or seen-URL row points at."""
        return self.warc.read(WarcPointer(row["warc_file"], row["warc_offset"]))

    def _mark_seen(self, url, outlet, status, reason, article_id=None, http_status=None,
                   warc: WarcPointer | None = None) -> None:
        """Insert or update the URL's row, in one statement: a known URL keeps its
        ``first_seen``, and its WARC pointer when this fetch kept none."""
        now = utc_now()
        row = {"url_key": normalize_url(url), "url": url, "outlet": outlet, "status": status,
               "reason": reason, "article_id": article_id, "http_status": http_status,
               "first_seen": now, "last_fetched": now}
        if warc is not None:
            row.update(warc_file=warc.file, warc_offset=warc.offset)
        changed = ", ".join(f"{c} = excluded.{c}" for c in row if c not in ("url_key", "first_seen"))
        self._insert("seen_urls", row, f"on conflict(url_key) do update set {changed}")

    # Plain parameterised SQL: sqlite-utils' insert/update/upsert would introspect the
    # schema (table and view names, columns) and open a savepoint on every call, which
    # cost ~50 statements per archived article. Values are adapted as sqlite-utils does.

    def _insert(self, table: str, row: dict, conflict: str = "") -> int:
        """Insert ``row`` (column -> value) into ``table``; returns the new rowid."""
        columns = ", ".join(map(quote_identifier, row))
        sql = f"insert into {table} ({columns}) values ({', '.join('?' * len(row))}) {conflict}"
        return self.db.execute(sql, [jsonify_if_needed(v) for v in row.values()]).lastrowid

    def _update(self, table: str, row_id: int, values: dict) -> None:
        """Set ``values`` on row ``row_id`` of ``table``; a missing row is an error."""
        sets = ", ".join(f"{quote_identifier(c)} = ?" for c in values)
        params = [*map(jsonify_if_needed, values.values()), row_id]
        if self.db.execute(f"update {table} set {sets} where id = ?", params).rowcount != 1:
            raise NotFoundError(f"{table} row {row_id} not found")

    def start_run(self, trigger: str, outlets: list[str]) -> int:
        with self.db.atomic():
            return self.db["crawl_runs"].insert({
                "started_at": utc_now(), "trigger": trigger, "status": "running",
                "outlets": json.dumps(outlets),
            }).last_pk

    def finish_run(self, run_id: int, status: str, counts: dict, outlets: list[dict] = ()) -> None:
        """Close a ledger row, with one row per crawled outlet."""
        with self.db.atomic():
            self.db["crawl_runs"].update(run_id, {
                "finished_at": utc_now(), "status": status, **counts})
            self.db["outlet_runs"].insert_all({"run_id": run_id, **row} for row in outlets)

    def outlet_health(self) -> list[dict]:
        """Per outlet: its last run's flag and when it last ran without one."""
        return list(self.db.query(
            "select o.outlet, max(o.run_id) as last_run, "
            " (select flag from outlet_runs x where x.outlet = o.outlet order by run_id desc limit 1) as flag, "
            " (select r.started_at from outlet_runs g join crawl_runs r on r.id = g.run_id "
            "  where g.outlet = o.outlet and g.flag is null order by g.run_id desc limit 1) as last_good_at "
            "from outlet_runs o group by o.outlet order by o.outlet"))

    def last_ok_start(self) -> datetime | None:
        """When the last successful crawl started (None: never)."""
        row = self._one("select started_at from crawl_runs where status = 'ok' order by id desc limit 1")
        return datetime.fromisoformat(row["started_at"]) if row else None

    def last_run_id(self) -> int:
        return self.db.execute("select coalesce(max(id), 0) from crawl_runs").fetchone()[0]

    def run_after(self, after_id: int) -> dict | None:
        """The newest ledger row written after run ``after_id``, if any."""
        return self._one("select * from crawl_runs where id > ? order by id desc limit 1", after_id)

    def fail_running_runs(self, reason: str, after_id: int = 0) -> int:
        """Mark 'running' rows (id > after_id) failed: their crawl died without closing.

        Call only while holding the archive lock, so no live crawl's row is touched.
        """
        with self.db.atomic():
            return self.db.execute(
                "update crawl_runs set status = 'failed', finish_reason = ?, finished_at = ? "
                "where status = 'running' and id > ?", [reason, utc_now(), after_id]).rowcount

    def runs(self, last: int = 10) -> list[dict]:
        return list(self.db.query(
            "select * from crawl_runs order by id desc limit ?", [last]))


SEEN_FOR_FETCH = ("select s.url_key, s.status, a.published, a.last_checked from seen_urls s"
                  " left join articles a on a.id = s.article_id")


def _needs_fetch(row: dict | None, revisit_days: int) -> bool:
    """``Archive.needs_fetch`` on one row of ``SEEN_FOR_FETCH``."""
    if row is None or row["status"] not in SETTLED:
        return True
    if row["status"] != ARCHIVED or revisit_days <= 0 or not row["published"]:
        return False
    now = datetime.now(timezone.utc)
    recent = row["published"][:10] >= (now + VN_OFFSET - timedelta(days=revisit_days)).date().isoformat()
    stale = (row["last_checked"] or "") < (now - timedelta(hours=REVISIT_AFTER_HOURS)).isoformat(timespec="seconds")
    return recent and stale


def _pointer(row: dict) -> WarcPointer | None:
    return WarcPointer(row["warc_file"], row["warc_offset"]) if row.get("warc_file") else None
