"""The browsable list of initiatives (the filter form, one keyset page, the same selection in the API and as CSV)
and a page per record (each quote inside its paragraph, and how to cite it)."""
from __future__ import annotations

from flask import redirect, render_template, request

from .. import query
from ..dataset.citation import citation, quote_citation, release_published
from ..web import cursors, shapes, urls
from ..web.args import InitiativeListArgs, parse
from ..web.db import get_db
from ..web.errors import Problem
from ..web.listing import INITIATIVES
from ..web.negotiation import HTML_ALTERNATES
from . import article
from .render import NO_ARGS, PAGE_ARGS, common, facts, labels, page_response, problem_view, query_without, site, with_query

# The list page takes the list's filters and paging; format is the API's business (its links are beside the results).
LIST_ARGS = InitiativeListArgs(only=[f for f in InitiativeListArgs().fields if f != "format"])
EXPORT_DROPS = ("cursor", "limit")  # what the CSV export of a selection does not take
PAGE_ARGS["site.initiative_list"] = LIST_ARGS


@site.get("/initiatives")
def initiative_list():
    """The initiatives as a page: the filter form, one keyset page of results, and the same selection in the API and as CSV."""
    raw = urls.raw_query().split("&")
    kept = [p for p in raw if p and "=" in p and p.split("=", 1)[1] != ""]
    if len(kept) != len([p for p in raw if p]):
        # An empty form field means "any": the selection's address is the one without it (and so the API's).
        return redirect(with_query(request.path, "&".join(kept)), 303)
    if "include_national" in request.args and "region" not in request.args:
        # The form's box without a region: every initiative, national ones included, is the list without it.
        return redirect(with_query(request.path, query_without("include_national")), 303)
    conn = get_db()
    form = {k: ",".join(request.args.getlist(k)) for k in request.args}
    context = {**common(conn), **labels(conn), "form": form, "problem": None, "items": [], "page": None, "links": {},
               "regions": [], "api_url": with_query("/api/v1/initiatives", urls.raw_query()),
               "csv_url": with_query("/api/v1/initiatives.csv", query_without(*EXPORT_DROPS)), "years": facts(conn)["years"]}
    try:
        args = parse(LIST_ARGS, request.args)
        criteria, meta = INITIATIVES.resolve(args)
        page, links = cursors.run_page(
            args, lambda limit, after, backwards: INITIATIVES.page(conn, criteria, args["sort"], limit, after, backwards),
            query.key_length(args["sort"]))
    except Problem as problem:
        context["problem"] = problem_view(problem)
        return page_response(render_template("initiatives.html", **context), status=problem.status)
    national = 0
    if criteria.include_national:  # how many of the selection apply everywhere
        national = next((r["count"] for r in query.scope_counts(conn, criteria) if r["id"] == "national"), 0)
    context.update(items=INITIATIVES.items(conn, page.rows, criteria), page=page, links=links, national_included=national,
                   regions=query.regions_by_codes(conn, criteria.regions) if criteria.regions else [])
    return page_response(render_template("initiatives.html", **context))


def evidence_in_context(conn, record: dict) -> list[dict]:
    """Each paragraph of the article holding a quote of this record, cut into segments with the record's quotes marked.

    A paragraph with two of the record's quotes is shown once, with both marked."""
    sources = {s["id"]: s for s in facts(conn)["sources"]}
    blocks: dict = {}
    for i, e in enumerate(record["evidence"], start=1):
        source = sources[e["source"]["id"]]
        _, paragraphs = article.load(source)
        for p in article.containing(paragraphs, e["start"], e["end"]):
            block = blocks.setdefault((source["id"], p.start), {"source": source, "paragraph": p, "spans": [], "quotes": []})
            block["spans"].append(article.Span(e["start"], e["end"], i))
            block["quotes"].append(i)
    out = []
    for block in blocks.values():
        out.append({**block, "segments": article.segments(block["paragraph"], block["spans"])})
    return out


@site.get("/initiatives/<string:initiative_id>")
def initiative_page(initiative_id: str):
    """One record as a page: everything the API's record holds, each quote inside its paragraph, and how to cite it."""
    parse(NO_ARGS, request.args)
    conn = get_db()
    row, current = shapes.find_initiative(conn, initiative_id)
    if current is not None:
        return redirect(urls.absolute(f"/initiatives/{current}"), 301)  # a renamed record: its old id keeps resolving
    if row is None:
        raise Problem(404, "not-found", f"There is no initiative with id {initiative_id[:shapes.ID_MAX]!r}.")
    record = shapes.initiative_record(conn, row)
    ctx = common(conn)
    page_url = urls.absolute(f"/initiatives/{row['id']}")
    contexts = evidence_in_context(conn, record)
    html = render_template("initiative.html", **ctx, **labels(conn), record=record, page_url=page_url, contexts=contexts,
                           cite=citation(record, page_url, ctx["version"], ctx["release"], ctx["creators"],
                                         release_published(ctx["meta"])),
                           quote_cites=quote_cites(record, contexts, page_url, ctx))
    return page_response(html)


def quote_cites(record: dict, contexts: list[dict], page_url: str, ctx: dict) -> dict[int, dict]:
    """Each quote's own citation (its paragraph, the quote, the record it was read through), by its number."""
    return {i: quote_citation(record["evidence"][i - 1], block["source"], page_url, ctx["version"], ctx["release"],
                              block["paragraph"].number)
            for block in contexts for i in block["quotes"]}


HTML_ALTERNATES["initiatives.get_initiative"] = lambda values: f"/initiatives/{values['initiative_id']}"
