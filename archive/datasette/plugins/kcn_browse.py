"""Datasette plugin for browsing the kcn archive (loaded by `kcn serve` via plugins_dir).

- facets Datasette lacks on ``articles``: month of ``published``, relevance
  terms (keys of the JSON object), named zones (through ``article_zones``);
- the matching filters ``?_month=``, ``?_term=``, ``?_zone=`` so facet links work;
- readable cells: text as paragraphs, the original URL as a link, the text file's path;
- read-only twice over: every connection to the archive is query-only (beside
  mode=ro), and any HTTP method but GET/HEAD/OPTIONS gets 405.
"""
from __future__ import annotations

import html
import json

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import path_with_added_args, path_with_removed_args
from markupsafe import Markup

ARCHIVE_DB = "archive"


class DerivedFacet(Facet):
    """A facet over a value derived in SQL from each row (``t``); toggles ``?{arg}=``."""

    arg = ""
    label = ""  # facet heading
    order = "kcn_count desc, kcn_value"

    def value_sql(self, column: str) -> tuple[str, str]:
        """(expression, extra FROM clause) giving the facet value for row ``t``."""
        raise NotImplementedError

    async def facet_results(self):
        results, timed_out = [], []
        for item in self.get_configs():
            column = item["config"].get("column") or item["config"]["simple"]
            try:
                results.append(await self._one(column, item["source"]))
            except QueryInterrupted:
                timed_out.append(f"{self.type}:{column}")
        return results, timed_out

    async def _one(self, column: str, source: str) -> dict:
        size = self.get_facet_size()
        expr, joins = self.value_sql(column)
        # Aliases unlike json_each's own columns (value, key), which GROUP BY would pick.
        sql = (f"select {expr} as kcn_value, count(*) as kcn_count from ({self.sql}) t {joins} "
               f"where {expr} is not null group by kcn_value order by {self.order} limit {size + 1}")
        rows = (await self.ds.execute(self.database, sql, self.params, truncate=False,
                                      custom_time_limit=self.ds.setting("facet_time_limit_ms"))).rows
        chosen = self.request.args.getlist(self.arg)
        return {"name": self.label, "type": self.type, "hideable": source != "metadata",
                "toggle_url": path_with_removed_args(self.request, {f"_facet_{self.type}": column}),
                "truncated": len(rows) > size,
                "results": [self._value(r, chosen) for r in rows[:size]]}

    def _value(self, row, chosen: list[str]) -> dict:
        value = str(row["kcn_value"])
        selected = value in chosen
        change = path_with_removed_args if selected else path_with_added_args
        return {"value": value, "label": value, "count": row["kcn_count"], "selected": selected,
                "toggle_url": self.ds.absolute_url(self.request, change(self.request, {self.arg: value}))}


class MonthFacet(DerivedFacet):
    type, arg, label, order = "month", "_month", "month published", "kcn_value desc"

    def value_sql(self, column):
        return f"substr(t.[{column}], 1, 7)", ""


class TermFacet(DerivedFacet):
    type, arg, label = "term", "_term", "relevance term"

    def value_sql(self, column):
        return "j.key", f", json_each(case when json_valid(t.[{column}]) then t.[{column}] end) j"


class ZoneFacet(DerivedFacet):
    type, arg, label = "zone", "_zone", "zone"

    def value_sql(self, column):
        return "z.name", (f"join article_zones az on az.article_id = t.[{column}] "
                          "join zones z on z.id = az.zone_id")


# ?arg=value -> (where clause, human description); several values of one arg all apply.
FILTERS = {
    "_month": ("published glob :{p} || '*'", "published in {v}"),
    "_term": ("exists (select 1 from json_each(case when json_valid(relevance_terms) "
              "then relevance_terms end) where key = :{p})", "relevance term {v!r}"),
    "_zone": ("id in (select az.article_id from article_zones az join zones z "
              "on z.id = az.zone_id where z.name = :{p})", "mentions {v}"),
}


@hookimpl
def register_facet_classes():
    return [MonthFacet, TermFacet, ZoneFacet]


@hookimpl
def filters_from_request(request, database, table, datasette):
    if (database, table) != (ARCHIVE_DB, "articles"):
        return None
    wheres, params, human = [], {}, []
    for arg, (clause, description) in FILTERS.items():
        for n, value in enumerate(request.args.getlist(arg)):
            p = f"kcn{arg}{n}"
            wheres.append(clause.format(p=p))
            params[p] = value
            human.append(description.format(v=value))
    return FilterArguments(wheres, params, human) if wheres else None


@hookimpl
def asgi_wrapper(datasette):
    """Browsing needs GET only: refuse every other method (405) before Datasette sees it."""
    def wrap(app):
        async def read_only(scope, receive, send):
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
                await send({"type": "http.response.start", "status": 405,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"allow", b"GET, HEAD, OPTIONS")]})
                await send({"type": "http.response.body", "body": b"read-only archive\n"})
                return
            await app(scope, receive, send)
        return read_only
    return wrap


@hookimpl
def prepare_connection(conn, database, datasette):
    if database != ARCHIVE_DB:
        return
    conn.execute("PRAGMA query_only = 1")
    conn.execute("PRAGMA mmap_size = 1073741824")  # big archives: no read() per page
    conn.execute("PRAGMA cache_size = -65536")
    conn.create_function("kcn_zone", 1, _canonical_zone, deterministic=True)


def _canonical_zone(text):
    """"KCN Thăng Long" -> "Khu công nghiệp Thăng Long" (canned query parameter)."""
    from archive.zones import find_zones  # the serving process has the project installed

    found = find_zones(text or "")
    return next(iter(found)).name if found else (text or "").strip()


@hookimpl
def render_cell(value, column, table, database):
    if database != ARCHIVE_DB or not isinstance(value, str):
        return None
    if column == "text" and table in ("articles", "versions"):
        paras = [p.strip() for p in value.split("\n\n") if p.strip()]
        return Markup('<div class="kcn-text">' + "".join(
            f"<p>{html.escape(p)}</p>" for p in paras) + "</div>")
    if column == "url" and value.startswith(("http://", "https://")):
        url = html.escape(value)
        return Markup(f'<a href="{url}" rel="noopener noreferrer" target="_blank">{url}</a>')
    if column == "filename" and table == "articles":
        return Markup(f"<code>texts/{html.escape(value)}</code>")
    if column in ("relevance_terms", "tags") and value.startswith(("{", "[")):
        return _json_list(value)
    return None


def _json_list(value: str):
    try:
        data = json.loads(value)
    except ValueError:
        return None
    items = [f"{k} ×{v}" for k, v in data.items()] if isinstance(data, dict) else map(str, data)
    return ", ".join(items)
