"""How the dataset and its records are cited: the version a citation names, who made the dataset, a record's citation
(text, CSL-JSON, BibTeX, GB/T 7714, RIS) and a quote's, in Chinese and in English. Pure: the pages (api/site) and the MCP server
(api/agents) cite alike."""
from __future__ import annotations

import json

from .about import TITLE_EN, TITLE_ZH


def version_label(version: str, release: str | None) -> str:
    """The version a citation names: the release when the build records one, with the content hash it was built as."""
    return f"{release} (build {version})" if release else version


def _release_field(meta: dict, key: str) -> str | None:
    """A field of the release notes the build keeps in its meta table (a JSON object); None when there is none."""
    try:
        value = json.loads(meta.get("release") or "null")
    except ValueError:
        return None
    return str(value[key]) if isinstance(value, dict) and value.get(key) else None


def release_of(meta: dict) -> str | None:
    """The dataset's release (semantic version); None when the build records none."""
    return _release_field(meta, "version")


def release_published(meta: dict) -> str | None:
    """The date the dataset's release was published (data/release.yaml's published, YYYY-MM-DD); None without one."""
    return _release_field(meta, "published")


def creators(meta: dict) -> list[str]:
    """Who made the dataset, as the build's data package says (its contributors)."""
    try:
        return [c["title"] for c in json.loads(meta["datapackage"])["contributors"]]
    except (KeyError, ValueError, TypeError):
        return []


def citation(record: dict, url: str, version: str, release: str | None, authors: list[str],
             issued: str | None = None) -> dict:
    """How to cite one record: a sentence, CSL-JSON and BibTeX, all naming its permanent page, the dataset version
    and, when known, the date the release was issued (YYYY-MM-DD)."""
    label = version_label(version, release)
    text = (f"{', '.join(authors) + '. ' if authors else ''}{record['name_zh']} ({record['name_en']}). "
            f"{TITLE_ZH} / {TITLE_EN}, version {label}{', ' + issued if issued else ''}. {url}")
    csl = [{"id": record["id"], "type": "dataset", "title": f"{record['name_zh']} ({record['name_en']})",
            "container-title": f"{TITLE_ZH} / {TITLE_EN}", "version": label, "URL": url, "language": "zh-Hans",
            "author": [{"literal": a} for a in authors],
            **({"issued": {"date-parts": [[int(p) for p in issued.split("-")]]}} if issued else {}),
            "note": f"CC BY 4.0. Based on {record['evidence'][0]['source']['publisher_en']}, "
                    f"{record['evidence'][0]['source']['published']}" if record.get("evidence") else "CC BY 4.0"}]

    def bib(value: str) -> str:
        return "".join("\\" + ch if ch in "{}%&$#_" else ch for ch in value)

    key = "socialwork-" + record["id"]
    bibtex = "\n".join([
        f"@misc{{{key},",
        f"  author = {{{{{bib(' and '.join(authors))}}}}},",
        f"  title = {{{bib(record['name_zh'])} ({bib(record['name_en'])})}},",
        f"  howpublished = {{{TITLE_ZH} / {bib(TITLE_EN)}}},",
        f"  version = {{{bib(label)}}},",
        *([f"  year = {{{issued[:4]}}},", f"  date = {{{issued}}},"] if issued else []),
        f"  url = {{{url}}},",
        "  note = {CC BY 4.0}",
        "}",
    ])
    # GB/T 7714-2015, an online dataset ([DS/OL]): (issued date)[date cited], which the one citing fills in.
    gbt = (f"{', '.join(authors) + '. ' if authors else ''}{record['name_zh']}[DS/OL]//{TITLE_ZH}. 版本 {label}. "
           f"{'(' + issued + ')' if issued else ''}[引用日期]. {url}.")
    ris = "\n".join([
        "TY  - DATA", *(f"AU  - {a}" for a in authors), f"TI  - {record['name_zh']} ({record['name_en']})",
        f"T2  - {TITLE_ZH} / {TITLE_EN}", f"ET  - {label}",
        *([f"PY  - {issued[:4]}", f"DA  - {issued.replace('-', '/')}"] if issued else []),
        f"UR  - {url}", "LA  - zh-Hans", "N1  - CC BY 4.0", "ER  - ",
    ])
    return {"text": text, "csl": json.dumps(csl, ensure_ascii=False, indent=2), "bibtex": bibtex, "gbt7714": gbt,
            "ris": ris, "version": label}


def quote_citation(quote: dict, source: dict, record_url: str, version: str, release: str | None,
                   paragraph: int | None = None) -> dict:
    """One quote cited in Chinese and in English: the source (publisher, title, date), the quote verbatim with its
    [start, end) offsets in code points (and its paragraph, when given), and the dataset record and version it was
    read through."""
    label = version_label(version, release)
    span = f"[{quote['start']}, {quote['end']})"
    zh = (f"{source['publisher_zh']}：《{source['title_zh']}》，{source['published']}"
          f"{f'，第 {paragraph} 段' if paragraph else ''}。"
          f"引文：“{quote['quote']}”（原文字符位置 {span}）。"
          f"转引自：{TITLE_ZH}，版本 {label}，{record_url}")
    en = (f"{source['publisher_en']}, \"{source['title_zh']}\" ({source['title_en']}), {source['published']}"
          f"{f', paragraph {paragraph}' if paragraph else ''}. "
          f"Quoted: “{quote['quote']}” (characters {span} of the article). "
          f"Via: {TITLE_EN}, version {label}, {record_url}")
    return {"zh": zh, "en": en}
