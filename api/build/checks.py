"""The checks one record must pass against the reference data (RecordChecker): vocabularies, region codes, quotes
at their offsets, figures, and every claim of its texts in one of its quotes."""
from __future__ import annotations

import json
import re
from decimal import Decimal

from ..dataset.names import zh_short
from .rules import _FIGURE, InitiativeSchema, ValidationError, fast_load, flatten, parse_figure


class RecordChecker:
    """The schema and the cross-file checks one initiative record must pass, against the loaded reference data
    (files.load_reference's Dataset)."""

    def __init__(self, ref, problems: list[str]):
        self.vocab = {"kind": {k["id"] for k in ref.kinds}, "theme": {t["id"] for t in ref.themes}}
        self.kind_terms = {k["id"]: k["evidence_terms"] for k in ref.kinds}
        self.codes = {r["code"] for r in ref.regions}
        # The names a quote may call a region by: 成都市 or 成都.
        self.region_names = {r["code"]: [n for n in (r["name_zh"], zh_short(r["name_zh"])) if n] for r in ref.regions}
        self.successor = {a["code"]: a["successor_code"] for a in ref.aliases}
        self.seeds = ref.seeds
        self.glossary = [{**g, "avoid": [re.compile(p, re.I) for p in g["avoid"]]} for g in ref.glossary]
        self.problems = problems
        self.schema = InitiativeSchema()

    def check(self, where: str, raw, stem: str | None = None) -> dict | None:
        """The loaded record, or None; each fault is a 'where: id: field: message' line in problems."""
        problems = self.problems
        rid = raw.get("id", "?") if isinstance(raw, dict) else "?"
        rec = fast_load(raw)
        if rec is None:
            try:
                rec = self.schema.load(raw)
            except ValidationError as err:
                problems.extend(f"{where}: {rid}: {line}" for line in flatten(err.messages))
                return None
        for key, allowed in self.vocab.items():
            if rec[key] not in allowed:
                problems.append(f"{where}: {rid}: {key}: {rec[key]!r} is not one of {', '.join(sorted(allowed))}")
        for i, code in enumerate(rec["regions"]):
            if code in self.successor:
                problems.append(f"{where}: {rid}: regions[{i}]: {code} is retired; use its successor {self.successor[code]}")
            elif code not in self.codes:
                problems.append(f"{where}: {rid}: regions[{i}]: {code} is not a GB/T 2260 code in data/regions.csv")
        for i, ev in enumerate(rec["evidence"]):
            check_span(where, rid, f"evidence[{i}]", ev["source"], ev["quote"], ev["start"], ev["end"], self.seeds, problems)
        quotes = "\n".join(ev["quote"] for ev in rec["evidence"])
        for i, m in enumerate(rec["metrics"]):
            _check_metric(where, rid, i, m, quotes, problems)
        self._check_claims(f"{where}: {rid}", rec, quotes)
        if stem is not None and rec["id"] != stem:
            problems.append(f"{where}: {rec['id']}: id: must equal the file name ({stem})")
        return rec


    def _check_claims(self, prefix: str, rec: dict, quotes: str):
        """What the record says beyond its quotes' text: each claim must be in one of the quotes, or cited."""
        out = self.problems
        def values():   # the figures' values, wanted only for a number that no quote writes as it is
            return {format(parse_figure(m["figure_text"])[0].normalize(), "f") for m in rec["metrics"] if _FIGURE.match(m["figure_text"])}
        numbers = quoted_numbers(quotes)   # once for the record, not once for each text
        terms = [g for g in self.glossary if g["zh"] in quotes or g["zh"] in rec["name_zh"]]
        untitled = {en: _without_titles(rec[en], terms) for en in ("name_en", "summary_en")}   # once for both checks
        for fld, text in (("summary_zh", rec["summary_zh"]), ("summary_en", untitled["summary_en"])):
            for line in unquoted_claims(text, quotes, zh=fld.endswith("_zh"), figures=values, numbers=numbers):
                out.append(f"{prefix}: {fld}: {line}")
        out.extend(f"{prefix}: {line}" for line in glossary_faults(rec, terms, untitled))
        if "place_zh" in rec:
            out.extend(f"{prefix}: place_zh: {line}" for line in unquoted_claims(rec["place_zh"], quotes, zh=True, numbers=numbers))
        for i, org in enumerate(rec["organisations"]):
            if org["name_zh"] not in quotes:
                out.append(f"{prefix}: organisations[{i}]: {org['name_zh']!r} is in none of the record's quotes")
        for i, person in enumerate(rec["people"]):
            for text in (person["name_zh"], *(r["zh"] for r in person["roles"])):
                if text not in quotes:
                    out.append(f"{prefix}: people[{i}]: {text!r} is in none of the record's quotes")
        for i, ev in enumerate(rec["evidence"]):
            for who in speakers(ev["quote"]):
                names = [p["name_zh"] for p in rec["people"] if p["name_zh"] in who]
                if who not in rec["summary_zh"] and not any(n in rec["summary_zh"] for n in names):
                    out.append(f"{prefix}: summary_zh: evidence[{i}] is reported speech ({who}): the summary says who says it")
                for p in rec["people"]:
                    if p["name_zh"] in who and p["name_en"] not in rec["summary_en"]:
                        out.append(f"{prefix}: summary_en: evidence[{i}] is reported speech ({who}): the summary names {p['name_en']}")
        says_others = "等地" in quotes
        if says_others == rec["regions_complete"]:
            out.append(f"{prefix}: regions_complete: " + (
                "a quote says 等地 ('and other places'): the regions are examples, so regions_complete must be false"
                if says_others else "is false, but no quote says 等地 ('and other places')"))
        cited = {f["value"] for f in rec["outside_facts"] if f["fact"] == "region"}
        for i, code in enumerate(rec["regions"]):
            names = self.region_names.get(code, [])
            if names and not any(n in quotes for n in names) and code not in cited:
                out.append(f"{prefix}: regions[{i}]: {code} {names[0]} is named in none of the record's quotes; "
                           "code the finest division the article names, or cite what supports it (outside_facts, fact: region)")
        for i, fact in enumerate(rec["outside_facts"]):
            if fact["fact"] == "region" and fact["value"] not in rec["regions"]:
                out.append(f"{prefix}: outside_facts[{i}].value: {fact['value']} is not one of the record's regions")
        terms = self.kind_terms.get(rec["kind"])
        if terms and not any(t in quotes for t in terms):
            out.append(f"{prefix}: kind: a '{rec['kind']}' record quotes the article naming it so "
                       f"({', '.join(terms)}); none of its quotes does")


# A Chinese summary is written from the quotes: every two adjacent Chinese characters in it are in one of
# the record's quotes, unless one of them is one of these function characters that join quoted phrases. No verb
# is one: 让 and 使 (make, let) add a cause, 将 and 把 (take, put) an action, that the quotes may not have.
JOINERS = frozenset("的和与及并在为是了其对由向从于以等而也又或均各该此")
# Reported speech in a quote: 'X说' after the words quoted, or 'X介绍,' / 'X表示,' before them. X is who says it.
_SPEAKER = (re.compile(r"[”」]([^,。;:“”「」]{1,30}?)(?:说|表示|介绍)[。]?$"),
            re.compile(r"^([^,。;:“”「」]{1,30}?)(?:介绍|表示|说)[,:]"))


def speakers(quote: str) -> list[str]:
    """Who a quote says is speaking (驿站负责人介绍, … 成都外卖小哥刘强说), as the quote names them."""
    return [m[1] for pattern in _SPEAKER if (m := pattern.search(quote))]
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


_BARE_THOUSANDS = re.compile(r"(?<![\d.,])\d{4,}(?![\d,]|\.\d)")


def _without_titles(text: str, terms: list[dict]) -> str:
    """text without the official English titles of the glossary (their numbers are the title's, not claims)."""
    for g in terms:
        if g["official"]:
            text = re.sub(re.escape(g["en"]), " ", text, flags=re.I)
    return text


def glossary_faults(rec: dict, terms: list[dict], untitled: dict[str, str]) -> list[str]:
    """The English of the record against data/glossary.yaml (terms: the entries whose Chinese its quotes or its
    name use; untitled: name_en and summary_en without the official titles): one English for each Chinese term, no
    English the glossary refuses, thousands with a separator."""
    out = []
    for zh, en in (("name_zh", "name_en"), ("summary_zh", "summary_en")):
        plain = _plain(rec[en])
        for g in terms:
            if g["zh"] in rec[zh] and _plain(g["en"]) not in plain:
                out.append(f"{en}: {g['zh']} is “{g['en']}” in English (data/glossary.yaml)")
    for en in ("name_en", "summary_en"):
        for g in terms:
            for pattern in g["avoid"]:
                if m := pattern.search(rec[en]):
                    out.append(f"{en}: “{m[0]}” for {g['zh']}: data/glossary.yaml has “{g['en']}”")
        for n in _BARE_THOUSANDS.findall(untitled[en]):
            if not (len(n) == 4 and 1900 <= int(n) <= 2100):   # a year is written without a separator
                out.append(f"{en}: {n}: write thousands with a separator ({int(n):,})")
    return out


def _plain(text: str) -> str:
    return text.replace("’", "'").casefold()


def quoted_numbers(quotes: str) -> set[str]:
    """The numbers the quotes write, without thousands separators."""
    return {n.replace(",", "") for n in _NUMBER.findall(quotes)}


def unquoted_claims(text: str, quotes: str, zh: bool, figures=frozenset(), numbers: set[str] | None = None) -> list[str]:
    """The parts of text its quotes do not support: numbers neither in them nor the value of one of their
    figures (2580.2万 may be written 25,802,000); in Chinese, words not in them. figures: the values, or a
    function that computes them when a number needs them; numbers: quoted_numbers(quotes), if the caller has it."""
    out = []
    quoted = quoted_numbers(quotes) if numbers is None else numbers
    numbers = [n for n in _NUMBER.findall(text) if n.replace(",", "").rstrip(".") not in quoted]
    if numbers and figures:
        values = set(figures() if callable(figures) else figures)
        numbers = [n for n in numbers if n.replace(",", "").rstrip(".") not in values]
    if numbers:
        out.append(f"the number(s) {', '.join(dict.fromkeys(numbers))} are in none of the record's quotes")
    if zh and text not in quotes:   # a text the quotes hold as it is has every pair of characters in them
        words = []
        for run in _CJK_RUN.findall(text):
            bad = [i for i in range(len(run) - 1)
                   if run[i:i + 2] not in quotes and run[i] not in JOINERS and run[i + 1] not in JOINERS]
            # Adjacent unsupported pairs are one word: 未诉, 诉先, 先办 -> 未诉先办.
            for i in bad:
                if words and words[-1][1] == i and words[-1][2] is run:
                    words[-1] = (words[-1][0], i + 1, run)
                else:
                    words.append((i, i + 1, run))
        if words:
            shown = ", ".join(dict.fromkeys(run[a:b + 1] for a, b, run in words))
            out.append(f"{shown}: in none of the record's quotes (say only what the quotes say)")
    return out


def check_span(rel, rid, where, source, quote, start, end, seeds, problems):
    prefix = f"{rel}: {rid}: {where + ': ' if where else ''}"
    if source not in seeds:
        problems.append(f"{prefix}source {source!r} is not in data/sources.yaml")
    elif seeds[source][start:end] != quote:
        problems.append(f"{prefix}quote does not match the seed at {start}-{end}")


def _check_metric(rel, rid, i, m, quotes, problems):
    prefix = f"{rel}: {rid}: metrics[{i}]"
    if m["figure_text"] not in quotes:
        problems.append(f"{prefix}.figure_text: {m['figure_text']!r} is not in the record's evidence quotes")
        return
    try:
        value, qualifier = parse_figure(m["figure_text"])
    except ValueError as exc:
        problems.append(f"{prefix}.figure_text: {exc}")
        return
    if Decimal(str(m["value"])) != value:
        problems.append(f"{prefix}.value: {m['value']} does not match the figure {m['figure_text']!r} ({value})")
    if m["qualifier"] != qualifier:
        problems.append(f"{prefix}.qualifier: {m['qualifier']!r} but the figure {m['figure_text']!r} reads {qualifier!r}")


def release_version_problems(ds) -> list[str]:
    """data/datapackage.json states the release data/release.yaml names."""
    if not (ds.release and ds.datapackage):
        return []
    stated = json.loads(ds.datapackage).get("version")
    if stated == ds.release.version:
        return []
    return [f"data/datapackage.json: version: {stated!r} is not this release's ({ds.release.version}, data/release.yaml)"]
