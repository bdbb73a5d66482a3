"""What every page shares: the two blueprints (pages, whose errors are problem+json, and site, whose errors are
pages), the layout's facts, the ETag of a page (the dataset version and the pages' code), links that keep the
query, and the error pages."""
from __future__ import annotations

import difflib
import functools
import hashlib
import re
from pathlib import Path
from urllib.parse import quote, unquote_plus, urlencode

from flask import Blueprint, Response, current_app, g, render_template, request
from markupsafe import Markup, escape
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import NotFound

from .. import query
from ..dataset.about import LICENCE, TITLE_EN, TITLE_ZH
from ..dataset.citation import creators, release_of
from ..web import errors, urls
from ..web.args import RootArgs, allowed_params, parse
from ..web.db import DatasetUnavailable, QueryTimeout, get_db, get_snapshot, prepared
from ..web.errors import RETRY_AFTER_SECONDS, UNAVAILABLE_RETRY_AFTER, Problem
from ..web.negotiation import accepted
from ..web.responses import tagged

pages = Blueprint("pages", __name__)  # the landing page and the downloads
site = Blueprint("site", __name__)    # the HTML pages: an error in one of them is an HTML page too (error_page)
HERE = Path(__file__).resolve().parent
NO_ARGS = RootArgs()

# ---------------------------------------------------------------- a shared link's extra parameters

# The query arguments each page takes (by endpoint; NO_ARGS for any page not named). A page is a link people share:
# WeChat adds from= and isappinstalled=, others utm_*, fbclid and the like. A page ignores every parameter it does not
# take (the API refuses them); a close match to one it takes (regoin=) is named in a note, not refused.
PAGE_ARGS: dict[str, Schema] = {}
HTML_ENDPOINTS = {"pages.index"}  # pages of the `pages` blueprint (whose errors are problem+json) that are HTML


def drop_unknown_params() -> None:
    """before_request of the HTML pages: the request's query as the page sees it holds only the parameters it takes, so
    its links, cursors, ETag and canonical link are those of the address without the rest. g.ignored: what was dropped."""
    if request.blueprint != "site" and request.endpoint not in HTML_ENDPOINTS:
        return
    allowed = set(allowed_params(PAGE_ARGS.get(request.endpoint, NO_ARGS)))
    parts = [(p, _param_name(p)) for p in request.query_string.split(b"&") if p]
    kept = [p for p, name in parts if name in allowed]
    g.ignored = [name for _, name in parts if name not in allowed]
    if len(kept) != len(parts):
        request.query_string = b"&".join(kept)
        request.environ["QUERY_STRING"] = request.query_string.decode("latin-1")
        request.__dict__.pop("args", None)  # werkzeug's cached parse of the old query


def _param_name(part: bytes) -> str:
    return unquote_plus(part.split(b"=", 1)[0].decode("latin-1"), encoding="utf-8", errors="replace")


def ignored_hints() -> list[dict]:
    """The dropped parameters that look like a misspelt one this page takes: {name, hint}, for a note on the page."""
    allowed = allowed_params(PAGE_ARGS.get(request.endpoint, NO_ARGS))
    out = []
    for name in dict.fromkeys(g.get("ignored", [])):
        hint = difflib.get_close_matches(name.lower(), allowed, n=1)
        if hint:
            out.append({"name": name[:100], "hint": hint[0]})
    return out


site.before_request(drop_unknown_params)
pages.before_request(drop_unknown_params)

CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef\U00020000-\U0002fa1f]+(?:[\s·、，。：；（）“”]*[\u2e80-\u9fff\U00020000-\U0002fa1f]+)*")


@site.app_template_filter("zh")
def mark_chinese(text) -> Markup:
    """English text with its Chinese runs marked lang="zh-Hans" (a screen reader reads each in its own voice)."""
    return Markup(CJK.sub(lambda m: f'<span lang="zh-Hans">{m.group(0)}</span>', str(escape(text or ""))))

def href(url: str) -> str:
    """A URL as it goes in an href: UTF-8 percent-encoded, query syntax kept."""
    return quote(url, safe="/?=&,:")


@functools.lru_cache(maxsize=1)
def page_digest() -> str:
    """The pages' code (every module of api/site, every template and static file of the pages), so a new
    template or stylesheet gets a new ETag under the same dataset."""
    h = hashlib.sha256()
    files = [*sorted(HERE.glob("*.py")), *sorted((HERE / "templates").glob("*.html")),
             *sorted(f for f in (HERE / "static").iterdir() if f.is_file())]
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def page_response(html: str, *parts: str, status: int = 200) -> Response:
    """An HTML page; a 200 is tagged with the dataset version, the page's path and query, and the pages' code."""
    resp = Response(html, status=status, mimetype="text/html")
    if status == 200:
        tagged(resp, page_digest(), *parts)
    else:
        resp.headers["Cache-Control"] = "no-store"  # as a problem+json is: an error is not kept
    return resp


SCOPE_LABELS = {"national": ("全国", "National"), "local": ("地方", "Local")}
YEAR_BASIS_LABELS = {
    "stated": ("事件年份，原文写明", "the year of the act, as the article states it"),
    "reported": ("报道年度（原文未写明事件年份）", "the year the article reports on, not a date of the act, which the article does not give"),
    "cited": ("事件年份，据文外引用来源", "the year of the act, from a cited outside source"),
    "unknown": ("年份不详", "the year is not known"),
}
MEASURE_LABELS = {
    "stock": ("存量", "stock: a total standing at the time of the report"),
    "flow": ("流量", "flow: counted over the period"),
    "change": ("变化率", "change: a rate of change"),
}
QUALIFIER_LABELS = {"exact": ("", ""), "more than": ("余", "more than"), "about": ("约", "about")}


# The facets of every record (query.facets with no filter): the landing page's charts, the map and the years of the
# filter form all read these counts, so at any size no page request computes them.
OVERVIEW = prepared(("pages", "overview"), lambda snap: query.facets(snap.conn, query.Filter()))


def _facts(snap) -> dict:
    conn = snap.conn
    meta = query.meta(conn)
    return {"meta": meta, "release": release_of(meta), "creators": creators(meta),
            "sources": [dict(s) for s in query.sources(conn)],
            "kinds": {k["id"]: dict(k) for k in query.kinds(conn)}, "themes": {t["id"]: dict(t) for t in query.themes(conn)},
            "years": [r["year"] for r in OVERVIEW.of(snap)["year"] if r["year"] is not None]}


# What the pages read of the dataset as a whole (meta, sources, vocabularies, years).
FACTS = prepared(("pages", "facts"), _facts)


def overview(conn) -> dict:
    """OVERVIEW of this request's snapshot."""
    return OVERVIEW.of(get_snapshot())


def facts(conn) -> dict:
    """FACTS of this request's snapshot."""
    return FACTS.of(get_snapshot())


def common(conn, meta=None) -> dict:
    """What every page's layout shows: the titles, the dataset version (and its release, when the build records one), the licence."""
    f = facts(conn)
    return {"title_zh": TITLE_ZH, "title_en": TITLE_EN, "version": get_snapshot().version,
            "release": f["release"], "meta": f["meta"], "creators": f["creators"], "licence": LICENCE, "sources": f["sources"],
            "canonical": urls.self_link(), "ignored_hints": ignored_hints(), "report_href": report_href(),
            "share_image": urls.absolute("/static/share.png")}


def report_href() -> str:
    """The footer's "report a problem": /report about this page (its path and query as the page sees them)."""
    return "/report?" + urlencode({"page": with_query(request.path, request.query_string.decode("latin-1"))[:MAX_PAGE]})


def labels(conn) -> dict:
    """Names of the vocabularies' ids, and the fixed labels, for the templates."""
    f = facts(conn)
    return {"kinds": f["kinds"], "themes": f["themes"],
            "scopes": SCOPE_LABELS, "bases": YEAR_BASIS_LABELS, "measures": MEASURE_LABELS, "qualifiers": QUALIFIER_LABELS}


def query_without(*names: str, **replace: str) -> str:
    """This request's query string (as pagination links carry it), without names, with replace's values put in."""
    parts = [p for p in urls.raw_query().split("&") if p and p.split("=", 1)[0] not in names and
             p.split("=", 1)[0] not in replace]
    parts += [f"{k}={quote(v, safe='')}" for k, v in replace.items()]
    return "&".join(parts)


def with_query(path: str, query: str) -> str:
    return path + ("?" + query if query else "")


def problem_view(problem: Problem) -> dict:
    """A 400 on the list page, for the template: the API's message, and for a region its suggestions as links to try."""
    choices = problem.extra.get("suggestions") or problem.extra.get("candidates") or []
    return {"status": problem.status, "kind": problem.kind, "detail": problem.detail, "errors": problem.errors or {},
            "choices": [{**c, "href": with_query("/initiatives", query_without("cursor", region=c["code"]))} for c in choices]}


# ---------------------------------------------------------------- errors on a page are pages

ERROR_TITLES = {400: ("请求有误", "Bad request"), 404: ("找不到该页面", "Not found"),
                503: ("暂时无法提供服务", "Service unavailable")}


def error_page(status: int, detail: str, headers: dict | None = None) -> Response:
    conn = None
    try:
        conn = get_db()
        ctx = common(conn)
    except (DatasetUnavailable, QueryTimeout):
        ctx = {"title_zh": TITLE_ZH, "title_en": TITLE_EN, "version": None, "release": None, "meta": {},
               "licence": LICENCE, "sources": []}
    title = ERROR_TITLES.get(status, ERROR_TITLES[400])
    resp = page_response(render_template("error.html", **ctx, status=status, error_zh=title[0], error_en=title[1],
                                         detail=detail), status=status)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def wants_page() -> bool:
    """A browser's request: Accept prefers HTML to JSON and problem+json (curl's */* and an API client's do not)."""
    accept = accepted(request)
    return accept is not None and accept.best_match(["application/problem+json", "application/json", "text/html"]) == "text/html"


@site.app_errorhandler(NotFound)
def not_found(exc: NotFound):
    """An unknown path: the site's 404 page for a browser outside /api/, problem+json for everyone else (Vary: Accept)."""
    if request.path.startswith("/api/"):
        return errors.http_problem(exc)  # the API's Vary: Accept is web/headers.py's
    resp = error_page(404, f"There is nothing at {request.path[:200]}.") if wants_page() else errors.http_problem(exc)
    resp.headers.add("Vary", "Accept")
    return resp


@site.errorhandler(Problem)
def page_problem(exc: Problem):
    return error_page(exc.status, exc.detail, exc.headers)


# ---------------------------------------------------------------- report a problem

MAX_PAGE = 500


def _site_path(value: str) -> None:
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        raise ValidationError("must be a path on this site, starting with a single /")


class ReportArgs(RootArgs):
    page = fields.String(validate=_site_path)  # the page the report is about


REPORT_ARGS = PAGE_ARGS["site.report"] = ReportArgs()


@site.get("/report")
def report():
    """How to report a problem with a page or a record: what to send, and where (SOCIALWORK_REPORT_URL, when the
    deployment names one), with the page's address filled in."""
    args = parse(REPORT_ARGS, request.args)
    conn = get_db()
    page = args.get("page", "/")
    about = urls.absolute(page)
    html = render_template("report.html", **common(conn), page=page, about=about, report_url=current_app.config["REPORT_URL"],
                           record=page.removeprefix("/initiatives/").split("?")[0] if page.startswith("/initiatives/") else None)
    return page_response(html)


@site.errorhandler(QueryTimeout)
def page_timeout(exc):
    return error_page(503, "This page took longer than the server allows. Try again in a moment.",
                      {"Retry-After": RETRY_AFTER_SECONDS})


@site.errorhandler(DatasetUnavailable)
def page_unavailable(exc):
    return error_page(503, str(exc) or "The dataset is not built yet.", {"Retry-After": UNAVAILABLE_RETRY_AFTER})
