"""Findable by catalogues and search engines: schema.org Dataset JSON-LD, a DCAT catalogue (Turtle), robots.txt and the sitemap
(how a record is cited: api/dataset/citation.py)."""
from __future__ import annotations

import json
from xml.sax.saxutils import escape

from flask import Blueprint, Response, request

from .. import query
from ..dataset.about import DESCRIPTION_EN, DESCRIPTION_ZH, LICENCE, SPATIAL, TEMPORAL, TITLE_EN, TITLE_ZH
from ..dataset.citation import release_published, version_label
from ..web.args import parse
from ..web.db import get_db, get_snapshot
from ..web.errors import Problem
from ..web.responses import tagged
from ..web.urls import absolute
from .downloads import DOWNLOADS
from .render import NO_ARGS, creators, page_digest, release_of

bp = Blueprint("discovery", __name__)


def script_json(value) -> str:
    """JSON for a <script type="application/ld+json"> data block: nothing in it can end the element or open a comment."""
    return json.dumps(value, ensure_ascii=False, indent=1).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def dataset_jsonld(conn, meta: dict, downloads) -> dict:
    """schema.org Dataset for the landing page: what Google Dataset Search and other crawlers read."""
    version, release = get_snapshot().version, release_of(meta)
    sources = query.sources(conn)
    return {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": absolute("/#dataset"),
        "name": TITLE_EN,
        "alternateName": TITLE_ZH,
        "description": DESCRIPTION_EN,
        "url": absolute("/"),
        "sameAs": absolute("/api/v1"),
        "version": release or version,
        **({"datePublished": issued} if (issued := release_published(meta)) else {}),
        "identifier": version,
        "license": LICENCE["url"],
        "isAccessibleForFree": True,
        "inLanguage": ["zh-Hans", "en"],
        "keywords": ["社会工作", "social work", "China", "open data", "GB/T 2260", "新就业群体", "new employment groups"],
        "creator": [{"@type": "Organization", "name": name} for name in creators(meta)],
        "temporalCoverage": "/".join(TEMPORAL),
        "spatialCoverage": {"@type": "Place", "name": f"{SPATIAL['name_zh']} {SPATIAL['name_en']}",
                            "address": {"@type": "PostalAddress", "addressCountry": SPATIAL["iso"]}},
        "isBasedOn": [{"@type": "NewsArticle", "headline": s["title_zh"], "alternativeHeadline": s["title_en"],
                       "datePublished": s["published"], "inLanguage": s["language"], "url": absolute(f"/sources/{s['id']}"),
                       "publisher": {"@type": "Organization", "name": f"{s['publisher_zh']} {s['publisher_en']}"}}
                      for s in sources],
        "distribution": [{"@type": "DataDownload", "name": d.name, "description": f"{d.title_zh} {d.title_en}",
                          "encodingFormat": d.media_type.split(";")[0], "contentUrl": absolute(f"/downloads/{d.name}")}
                         for d in downloads],
        "includedInDataCatalog": {"@type": "DataCatalog", "name": TITLE_EN, "url": absolute("/catalog.ttl")},
    }


# ---------------------------------------------------------------- DCAT

DCAT, DCT, FOAF, RDF, XSD, VCARD = ("http://www.w3.org/ns/dcat#", "http://purl.org/dc/terms/", "http://xmlns.com/foaf/0.1/",
                                    "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://www.w3.org/2001/XMLSchema#",
                                    "http://www.w3.org/2006/vcard/ns#")
MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"


def iri(value: str) -> str:
    return f"<{value}>"


def literal(value, lang: str | None = None, datatype: str | None = None) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{text}"' + (f"@{lang}" if lang else "") + (f"^^<{datatype}>" if datatype else "")


def catalog_triples(conn, downloads) -> list[tuple[str, str, str]]:
    """The DCAT catalogue as triples: the catalogue, the dataset, a distribution per download, and the API as a data service."""
    meta = query.meta(conn)
    version, release = get_snapshot().version, release_of(meta)
    catalog, dataset, api = absolute("/catalog.ttl#catalog"), absolute("/#dataset"), absolute("/api/v1")
    publisher = "_:publisher"
    t = [
        (iri(catalog), iri(RDF + "type"), iri(DCAT + "Catalog")),
        (iri(catalog), iri(DCT + "title"), literal(TITLE_EN, "en")),
        (iri(catalog), iri(DCT + "title"), literal(TITLE_ZH, "zh-Hans")),
        (iri(catalog), iri(DCT + "description"), literal(DESCRIPTION_EN, "en")),
        (iri(catalog), iri(FOAF + "homepage"), iri(absolute("/"))),
        (iri(catalog), iri(DCT + "publisher"), publisher),
        (iri(catalog), iri(DCT + "license"), iri(LICENCE["url"])),
        (iri(catalog), iri(DCAT + "dataset"), iri(dataset)),
        (iri(catalog), iri(DCAT + "service"), iri(api)),
        (publisher, iri(RDF + "type"), iri(FOAF + "Organization")),
        *[(publisher, iri(FOAF + "name"), literal(name)) for name in creators(meta)],
        (iri(dataset), iri(RDF + "type"), iri(DCAT + "Dataset")),
        (iri(dataset), iri(DCT + "identifier"), literal("china-social-work-initiatives-2025")),
        (iri(dataset), iri(DCT + "title"), literal(TITLE_EN, "en")),
        (iri(dataset), iri(DCT + "title"), literal(TITLE_ZH, "zh-Hans")),
        (iri(dataset), iri(DCT + "description"), literal(DESCRIPTION_EN, "en")),
        (iri(dataset), iri(DCT + "description"), literal(DESCRIPTION_ZH, "zh-Hans")),
        (iri(dataset), iri(DCAT + "landingPage"), iri(absolute("/"))),
        (iri(dataset), iri(DCT + "license"), iri(LICENCE["url"])),
        (iri(dataset), iri(DCT + "publisher"), publisher),
        (iri(dataset), iri(DCAT + "version"), literal(release or version)),
        *([(iri(dataset), iri(DCT + "issued"), literal(issued, datatype=XSD + "date"))] if (issued := release_published(meta)) else []),
        (iri(dataset), iri("http://www.w3.org/2002/07/owl#versionInfo"), literal(version_label(version, release))),
        (iri(dataset), iri(DCT + "language"), iri("http://publications.europa.eu/resource/authority/language/ZHO")),
        (iri(dataset), iri(DCT + "language"), iri("http://publications.europa.eu/resource/authority/language/ENG")),
        (iri(dataset), iri(DCT + "spatial"), iri(SPATIAL["eu_country"])),
        (iri(dataset), iri(DCT + "temporal"), "_:period"),
        ("_:period", iri(RDF + "type"), iri(DCT + "PeriodOfTime")),
        ("_:period", iri(DCAT + "startDate"), literal(TEMPORAL[0], datatype=XSD + "date")),
        ("_:period", iri(DCAT + "endDate"), literal(TEMPORAL[1], datatype=XSD + "date")),
        *[(iri(dataset), iri(DCAT + "keyword"), literal(k, "zh-Hans" if not k.isascii() else "en"))
          for k in ("社会工作", "social work", "open data", "GB/T 2260")],
        *[(iri(dataset), iri(DCT + "source"), iri(absolute(f"/sources/{s['id']}"))) for s in query.sources(conn)],
    ]
    t += [
        (iri(api), iri(RDF + "type"), iri(DCAT + "DataService")),
        (iri(api), iri(DCT + "title"), literal("China social-work initiatives API", "en")),
        (iri(api), iri(DCAT + "endpointURL"), iri(api)),
        (iri(api), iri(DCAT + "endpointDescription"), iri(absolute("/openapi.yaml"))),
        (iri(api), iri(DCAT + "servesDataset"), iri(dataset)),
        (iri(api), iri(DCT + "license"), iri(LICENCE["url"])),
    ]
    for d in downloads:
        url = absolute(f"/downloads/{d.name}")
        dist = iri(url + "#distribution")
        media = d.media_type.split(";")[0]
        t += [
            (iri(dataset), iri(DCAT + "distribution"), dist),
            (dist, iri(RDF + "type"), iri(DCAT + "Distribution")),
            (dist, iri(DCT + "title"), literal(d.name)),
            (dist, iri(DCT + "description"), literal(d.title_en, "en")),
            (dist, iri(DCT + "description"), literal(d.title_zh, "zh-Hans")),
            (dist, iri(DCAT + "accessURL"), iri(url)),
            (dist, iri(DCAT + "downloadURL"), iri(url)),
            (dist, iri(DCAT + "mediaType"), iri(MEDIA_TYPES + media)),
            (dist, iri(DCT + "format"), literal(d.name.rsplit(".", 1)[-1].upper())),
            (dist, iri(DCT + "license"), iri(LICENCE["url"])),
        ]
    return t


@bp.get("/catalog.ttl")
def catalog_ttl():
    """The DCAT catalogue in Turtle (one triple per line, so it is N-Triples too): what CKAN's DCAT harvester reads."""
    parse(NO_ARGS, request.args)
    lines = [f"{s} {p} {o} ." for s, p, o in catalog_triples(get_db(), DOWNLOADS.values())]
    resp = Response("\n".join(lines) + "\n", mimetype="text/turtle")
    resp.headers["Content-Type"] = "text/turtle; charset=utf-8"
    tagged(resp, page_digest())   # the pages' code hash: this module is part of it
    return resp


# ---------------------------------------------------------------- robots.txt and the sitemap

@bp.get("/robots.txt")
def robots():
    """Everything may be crawled; the sitemap lists the pages."""
    parse(NO_ARGS, request.args)
    resp = Response(f"User-agent: *\nAllow: /\n\nSitemap: {absolute('/sitemap.xml')}\n", mimetype="text/plain")
    tagged(resp, page_digest())   # the pages' code hash: this module is part of it
    return resp


SITEMAP_URLS = 10_000  # URLs in one sitemap file (the protocol allows 50,000): about 1 MB, one rowid range to read
SITEMAPS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def xml_response(lines: list[str]) -> Response:
    resp = Response("\n".join(['<?xml version="1.0" encoding="UTF-8"?>', *lines]) + "\n", mimetype="application/xml")
    tagged(resp, page_digest())   # the pages' code hash: this module is part of it
    return resp


def urlset(paths) -> Response:
    return xml_response([f'<urlset xmlns="{SITEMAPS}">', *[f"  <url><loc>{escape(absolute(p))}</loc></url>" for p in paths],
                         "</urlset>"])


def fixed_pages(conn) -> list[str]:
    return ["/", "/initiatives", "/map", *[f"/sources/{s['id']}" for s in query.sources(conn)]]


def record_parts(conn) -> int:
    """How many sitemap files hold the record pages: part k holds the records numbered (k-1)·SITEMAP_URLS < n <= k·SITEMAP_URLS."""
    return -(-query.last_initiative_n(conn) // SITEMAP_URLS)


@bp.get("/sitemap.xml")
def sitemap():
    """The pages for people: the landing page, the list, the map, each source and every record. Past SITEMAP_URLS, a
    sitemap index of files that hold at most that many each (/sitemaps/pages.xml, /sitemaps/initiatives-<k>.xml)."""
    parse(NO_ARGS, request.args)
    conn = get_db()
    pages = fixed_pages(conn)
    if len(pages) + query.counts(conn)["initiatives"] <= SITEMAP_URLS:
        return urlset([*pages, *[f"/initiatives/{i}" for i in query.initiative_ids(conn)]])
    parts = ["/sitemaps/pages.xml", *[f"/sitemaps/initiatives-{k}.xml" for k in range(1, record_parts(conn) + 1)]]
    return xml_response([f'<sitemapindex xmlns="{SITEMAPS}">',
                         *[f"  <sitemap><loc>{escape(absolute(p))}</loc></sitemap>" for p in parts], "</sitemapindex>"])


@bp.get("/sitemaps/pages.xml")
def sitemap_pages():
    """The sitemap index's file of the pages that are not records."""
    parse(NO_ARGS, request.args)
    return urlset(fixed_pages(get_db()))


@bp.get("/sitemaps/initiatives-<int:part>.xml")
def sitemap_records(part: int):
    """The sitemap index's part-th file of record pages."""
    parse(NO_ARGS, request.args)
    conn = get_db()
    if not 1 <= part <= record_parts(conn):
        raise Problem(404, "not-found", f"There is no sitemap file {part}; /sitemap.xml lists them.")
    ids = query.initiative_ids(conn, after=(part - 1) * SITEMAP_URLS, upto=part * SITEMAP_URLS)
    return urlset([f"/initiatives/{i}" for i in ids])
