"""The build as an operator meets it: a broken file names file, record and field and changes nothing; builds are deterministic."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from api.build import DataError, build

ROOT = Path(__file__).resolve().parents[2]
RECORD = "beijing-12345-hotline"
RECORD_FILE = f"initiatives/{RECORD}.yaml"


@pytest.fixture()
def project(tmp_path) -> Path:
    """A copy of data/ and seeds/ that a test may break."""
    for sub in ("data", "seeds"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    return tmp_path


def _edit(project: Path, change, file: str = RECORD_FILE):
    """Apply change to one file under data/: a YAML or JSON document as loaded, a CSV file as a list of row dicts."""
    path = project / "data" / file
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = list(reader)
        change(rows)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")
    elif path.suffix == ".json":
        doc = json.loads(text)
        change(doc)
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        rec = yaml.safe_load(text)
        change(rec)
        path.write_text(yaml.safe_dump(rec, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _ids(file):
    """The ids in a vocabulary file, as a fault line lists the allowed values."""
    return ", ".join(sorted(item["id"] for item in yaml.safe_load((ROOT / "data" / file).read_text(encoding="utf-8"))))


def _region(code, **cells):
    """A change to data/regions.csv: set these cells of the row for code."""
    return lambda rows: next(r for r in rows if r["code"] == code).update(cells)


def _csv_fields(name, fields):
    """A change to data/datapackage.json: the resource's schema lists these column names."""
    def change(package):
        res = next(r for r in package["resources"] if r["name"] == name)
        res["schema"]["fields"] = [{"name": f, "type": "string"} for f in fields]
    return change


def _fact(fact: str, value: str) -> dict:
    """An outside fact with a complete cited source."""
    return {"fact": fact, "value": value, "statement_zh": "事实", "statement_en": "a fact",
            "source": {"title": "t", "publisher": "p", "published": "2025-10-28", "url": "https://example.org/",
                       "accessed": "2026-12-01", "relied_on": "r"}}


def _reason_for(rid: str):
    """A change to data/release.yaml: a reason for rid, unless it has one already."""
    def change(rel):
        if not any(rid in e["ids"] for e in rel["reasons"]):
            rel["reasons"].append({"ids": [rid], "reason": "Summary: a test's change."})
    return change


def _shift_quote(rec):
    rec["evidence"][0]["start"] += 1
    rec["evidence"][0]["end"] += 1


def _dump(db: Path) -> list:
    conn = sqlite3.connect(db)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'initiatives_fts%' ORDER BY name")]
    out = [(t, conn.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2').fetchall()) for t in tables]
    conn.close()
    return out


AT = f"data/initiatives/{RECORD}.yaml: {RECORD}"   # where a fault in the record is reported
REGIONS, PACKAGE = "regions.csv", "datapackage.json"
ALIASES = ["code", "successor_code", "name_zh", "retired", "note"]
# (label, change, message[, file under data/: the record by default])
BROKEN = [
    ("quote moved", _shift_quote, f"data/initiatives/{RECORD}.yaml: {RECORD}: evidence[0]: quote does not match the seed at 2581-2620"),
    ("unknown kind", lambda r: r.update(kind="hotlines"), f"{AT}: kind: 'hotlines' is not one of {_ids('kinds.yaml')}"),
    ("unknown theme", lambda r: r.update(theme="nope"), f"{AT}: theme: 'nope' is not one of {_ids('themes.yaml')}"),
    ("unknown code", lambda r: r.update(regions=["119999"]), f"{AT}: regions[0]: 119999 is not a GB/T 2260 code in data/regions.csv"),
    ("retired code", lambda r: r.update(regions=["500105"]), f"{AT}: regions[0]: 500105 is retired; use its successor 500157"),
    ("metric as string", lambda r: r["metrics"][0].update(value="25802000"), f"{AT}: metrics[0].value: must be a number (not a string)"),
    ("metric disagrees", lambda r: r["metrics"][0].update(value=2580.2),
     f"{AT}: metrics[0].value: 2580.2 does not match the figure '2580.2万件' (25802000.0)"),
    ("missing field", lambda r: r.pop("name_en"), f"{AT}: name_en: Missing data for required field."),
    ("unknown field", lambda r: r.update(colour="red"), f"{AT}: colour: Unknown field."),
    ("national with region", lambda r: r.update(scope="national"), f"{AT}: regions: a national initiative has no regions"),
    ("stated year no quote gives", lambda r: r.update(year=2024), f"{AT}: year_basis: 'stated' but no evidence quote gives the year 2024 (2024年)"),
    # What a record says beyond its quotes (release 1.1.0): each claim is quoted, or cited from outside.
    ("summary word no quote has", lambda r: r.update(summary_zh="火星基地"),
     f"{AT}: summary_zh: 火星基地: in none of the record's quotes (say only what the quotes say)"),
    ("summary number no quote has", lambda r: r.update(summary_en="It received 99 requests."),
     f"{AT}: summary_en: the number(s) 99 are in none of the record's quotes"),
    ("person no quote names", lambda r: r.update(people=[{"name_zh": "张三", "name_en": "Zhang San", "roles": [{"zh": "热线", "en": "hotline"}]}]),
     f"{AT}: people[0]: '张三' is in none of the record's quotes"),
    ("organisation no quote names", lambda r: r.update(organisations=[{"name_zh": "北京市民政局", "name_en": "Beijing Civil Affairs Bureau"}]),
     f"{AT}: organisations[0]: '北京市民政局' is in none of the record's quotes"),
    ("person without a role", lambda r: r.update(people=[{"name_zh": "北京", "name_en": "Beijing", "roles": []}]),
     f"{AT}: people[0].roles: Shorter than minimum length 1."),
    ("other places no quote says", lambda r: r.update(regions_complete=False),
     f"{AT}: regions_complete: is false, but no quote says 等地 ('and other places')"),
    ("region no quote names", lambda r: r.update(regions=["510000"]),
     f"{AT}: regions[0]: 510000 四川省 is named in none of the record's quotes; code the finest division the article "
     "names, or cite what supports it (outside_facts, fact: region)"),
    ("kind the quotes do not name", lambda r: r.update(kind="fund"),
     f"{AT}: kind: a 'fund' record quotes the article naming it so (基金); none of its quotes does"),
    # Release 1.2.0: what an outside reader of 1.1.0 found (issue 20), each kind of fault a rule.
    ("reported year from a quote that says in recent years",
     lambda r: r.update(year_basis="reported", evidence=r["evidence"] + [
         {"source": "xinhua-2026-01-25-social-work", "quote": "近年来,志愿服务工作协调机制不断健全", "start": 3197, "end": 3213}]),
     f"{AT}: year_basis: 'reported' but a quote says 近年来 ('in recent years'), which does not date it to the year the article "
     "reports on: write year: null, year_basis: unknown and say so in date_note"),
    ("reported speech with no speaker in the summary",
     lambda r: r.update(evidence=r["evidence"] + [{"source": "xinhua-2026-01-25-social-work", "start": 1569, "end": 1615,
                                                   "quote": "“驿站还会不定期组织公益理发,电瓶车检修活动,非常贴心,帮了我们不少忙。”成都外卖小哥刘强说"}]),
     f"{AT}: summary_zh: evidence[2] is reported speech (成都外卖小哥刘强): the summary says who says it"),
    ("reported speech with the person unnamed in English",
     lambda r: r.update(summary_zh="成都外卖小哥刘强说", people=[{"name_zh": "刘强", "name_en": "Liu Qiang", "roles": [{"zh": "成都外卖小哥", "en": "rider"}]}],
                        evidence=r["evidence"] + [{"source": "xinhua-2026-01-25-social-work", "start": 1569, "end": 1615,
                                                   "quote": "“驿站还会不定期组织公益理发,电瓶车检修活动,非常贴心,帮了我们不少忙。”成都外卖小哥刘强说"}]),
     f"{AT}: summary_en: evidence[2] is reported speech (成都外卖小哥刘强): the summary names Liu Qiang"),
    ("a cause no quote says (让)", lambda r: r.update(summary_zh="北京让接诉即办渠道更加顺畅"),
     f"{AT}: summary_zh: 京让接: in none of the record's quotes (say only what the quotes say)"),
    ("English other than the glossary's", lambda r: r.update(name_en="Beijing 12345 hotline: immediate response to public complaints"),
     f"{AT}: name_en: 接诉即办 is “Swift Response to Public Complaints” in English (data/glossary.yaml)"),
    ("English the glossary refuses", lambda r: r.update(summary_en=r["summary_en"] + " It handles complaints on receipt."),
     f"{AT}: summary_en: “on receipt” for 接诉即办: data/glossary.yaml has “Swift Response to Public Complaints”"),
    ("thousands without a separator", lambda r: r.update(summary_en=r["summary_en"].replace("25,802,000", "25802000")),
     f"{AT}: summary_en: 25802000: write thousands with a separator (25,802,000)"),
    ("a glossary pattern that is no regular expression", lambda g: g[0].update(avoid=["("]),
     "data/glossary.yaml: 接诉即办: avoid[0]: not a regular expression: missing ), unterminated subpattern at position 0", "glossary.yaml"),
    ("a reason that leaves a changed field group out",
     lambda rel: next(e for e in rel["reasons"] if RECORD in e["ids"]).update(reason="Summary: a test's reason."),
     f"data/release.yaml: reasons: {RECORD}: the reason names no change to its name (name_en), which changed since 1.1.0",
     "release.yaml"),
    ("cited year with no source", lambda r: r.update(year_basis="cited"), f"{AT}: year_basis: 'cited' but no outside_facts date falls in 2025"),
    ("outside date not a date", lambda r: r.update(outside_facts=[_fact("adopted", "2025")]),
     f"{AT}: outside_facts[0].value: must be a date YYYY-MM-DD for fact 'adopted'"),
    ("outside fact without its source", lambda r: r.update(outside_facts=[{k: v for k, v in _fact("adopted", "2025-10-28").items() if k != "source"}]),
     f"{AT}: outside_facts[0].source: Missing data for required field."),
    ("outside region fact for another code", lambda r: r.update(outside_facts=[_fact("region", "510000")]),
     f"{AT}: outside_facts[0].value: 510000 is not one of the record's regions"),
    ("figure without its measure", lambda r: r["metrics"][0].pop("measure"), f"{AT}: metrics[0].measure: Missing data for required field."),
    ("figure with a cited year", lambda r: r["metrics"][0].update(year_basis="cited"), f"{AT}: metrics[0].year_basis: Must be one of: stated, reported."),
    ("own id as a former id", lambda r: r.update(former_ids=[RECORD]), f"{AT}: former_ids: holds the record's own id"),
    ("a current id as a former id", lambda r: r.update(former_ids=["zhejiang-courier-academy"]),
     f"data/initiatives: {RECORD}: former_ids: zhejiang-courier-academy is a current record's id"),
    ("lat not a number", _region("110101", lat="39.9N"), "data/regions.csv: line 3 (110101): lat: must be a number", REGIONS),
    ("lat without lng", _region("110101", lng=""), "data/regions.csv: line 3 (110101): lat: given without lng", REGIONS),
    ("lng without lat", _region("110101", lat=""), "data/regions.csv: line 3 (110101): lng: given without lat", REGIONS),
    ("lat out of bounds", _region("110101", lat="95"), "data/regions.csv: line 3 (110101): lat: 95.0 is outside China's bounds (3..54)", REGIONS),
    ("lng out of bounds", _region("110101", lng="-116.4"), "data/regions.csv: line 3 (110101): lng: -116.4 is outside China's bounds (73..136)", REGIONS),
    ("parent cycle", _region("110000", parent_code="110101"), "data/regions.csv: 110101: parent_code: 110101 is its own ancestor", REGIONS),
    ("csv schema off the header", _csv_fields("region-aliases", ALIASES[:2] + ALIASES[3:]),
     "data/datapackage.json: region-aliases: schema.fields: code, successor_code, retired, note are not the columns of "
     "region_aliases.csv (code, successor_code, name_zh, retired, note)", PACKAGE),
    ("map layout without Beijing", lambda t: t.update(tiles=[x for x in t["tiles"] if x["code"] != "110000"]),
     "data/province-tiles.json: tiles: no square for 110000", "province-tiles.json"),
    ("two tiles on one square", lambda t: t["tiles"][1].update(col=t["tiles"][0]["col"], row=t["tiles"][0]["row"]),
     "data/province-tiles.json: tiles[1]: 150000 is on the square of 230000", "province-tiles.json"),
    ("created a date only", lambda p: p.update(created="2026-11-29"),
     "data/datapackage.json: created: '2026-11-29' is not an RFC 3339 datetime (e.g. 2026-11-29T00:00:00Z)", PACKAGE),
]


@pytest.mark.parametrize("label, change, message, file", [b if len(b) == 4 else (*b, RECORD_FILE) for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_a_broken_file_is_named_and_nothing_is_written(project, tmp_path, label, change, message, file):
    target = tmp_path / "out" / "socialwork.db"
    build(project, target)
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    _edit(project, change, file)
    with pytest.raises(DataError) as err:
        build(project, target)
    assert message in err.value.problems
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["socialwork.db"], "no temporary file is left behind"


def test_duplicate_ids_are_refused(project, tmp_path):
    src = project / "data" / "initiatives" / f"{RECORD}.yaml"
    (src.parent / "copy.yaml").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(DataError) as err:
        build(project, tmp_path / "x.db")
    assert any("id: must equal the file name (copy)" in p for p in err.value.problems)
    assert any(f"{RECORD}: id is not unique" in p for p in err.value.problems)
    assert not (tmp_path / "x.db").exists()


def test_a_seed_that_changed_is_refused(project, tmp_path):
    seed = project / "seeds" / "xinhua-2026-01-25-social-work.txt"
    seed.write_bytes(seed.read_bytes() + b" ")
    with pytest.raises(DataError) as err:
        build(project, tmp_path / "x.db")
    assert any("does not match its recorded hash" in p for p in err.value.problems)


def test_the_cli_reports_counts_and_refuses_bad_data(project, tmp_path):
    target = tmp_path / "cli.db"
    ok = subprocess.run([sys.executable, "-m", "api.build", "--data", str(project), "--db", str(target)],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    for word in ('"initiatives": 45', '"events": 2', '"people": 4', '"metrics": 9', '"quotes": 62', '"outside_facts": 4',
                 '"regions": 3211', '"version"'):
        assert word in ok.stdout
    before = target.read_bytes()
    _edit(project, _shift_quote)
    bad = subprocess.run([sys.executable, "-m", "api.build", "--data", str(project), "--db", str(target)],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert "evidence[0]: quote does not match the seed at 2581-2620" in bad.stderr
    assert "was not changed" in bad.stderr and "Traceback" not in bad.stderr
    assert target.read_bytes() == before


def test_two_builds_give_the_same_version_and_content(tmp_path):
    a = build(ROOT, tmp_path / "a.db")
    b = build(ROOT, tmp_path / "b.db")
    assert a["version"] == b["version"]
    assert _dump(tmp_path / "a.db") == _dump(tmp_path / "b.db")
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0] == a["version"]


def test_two_builds_give_byte_identical_descriptors(tmp_path):
    """The served datapackage.json and metadata.json depend on the inputs only: created comes from data/, not the clock."""
    build(ROOT, tmp_path / "a.db")
    build(ROOT, tmp_path / "b.db")
    keys = "SELECT key, value FROM meta WHERE key IN ('datapackage', 'datasette_metadata') ORDER BY key"
    a, b = (sqlite3.connect(tmp_path / f).execute(keys).fetchall() for f in ("a.db", "b.db"))
    assert a == b and len(a) == 2
    package = json.loads(a[0][1])
    assert package["created"] == json.loads((ROOT / "data" / "datapackage.json").read_text(encoding="utf-8"))["created"]


def test_counts_are_integers_in_the_file(built_db):
    conn = sqlite3.connect(built_db)
    types = dict(conn.execute("SELECT figure_text, typeof(value) FROM metrics").fetchall())
    assert types["2580.2万件"] == "integer" and types["18.4%"] == "real"
    assert conn.execute("SELECT count(*) FROM metrics WHERE initiative_id IS NULL").fetchone()[0] == 0


def test_a_data_change_changes_the_version(project, tmp_path):
    before = build(project, tmp_path / "a.db")["version"]
    _edit(project, lambda r: r.update(summary_en=r["summary_en"] + " "))
    _edit(project, _reason_for(RECORD), "release.yaml")
    assert build(project, tmp_path / "b.db")["version"] != before


def test_the_search_indexes_cover_names_summaries_and_people(built_db):
    # What each answers is in api/dataset/search.py and tests/query/test_search.py; the plans of the app's queries in tests/query/test_queries.py.
    conn = sqlite3.connect(built_db)
    sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE name IN ('initiatives_fts', 'initiatives_trigram')"))
    # Datasette's and sqlite-utils' table (content="initiatives"): English words and the Chinese pieces of search_zh.
    assert " ".join(sql["initiatives_fts"].split()) == (
        'CREATE VIRTUAL TABLE "initiatives_fts" USING FTS5 ( "name_en", "summary_en", "people_text", "search_zh", '
        'tokenize=\'unicode61\', content="initiatives" )')
    # The API's for longer terms; contentless, so that no tool takes it for the table's search index.
    assert " ".join(sql["initiatives_trigram"].split()) == (
        'CREATE VIRTUAL TABLE "initiatives_trigram" USING FTS5 ( "name_zh", "name_en", "summary_zh", "summary_en", '
        '"people_text", tokenize=\'trigram\', content=\'\' )')
    hotline = conn.execute("SELECT search_zh FROM initiatives WHERE id = 'beijing-12345-hotline'").fetchone()[0]
    assert hotline.startswith("热 线 接 诉 即 办 5热 热线 线接 接诉 诉即 即办 45热 5热线 热线接 ")   # 12345热线接诉即办
    assert " 12 " not in hotline and " 2025 " not in hotline   # no piece without a Chinese character


def test_bulk_records_in_json_lines_pass_the_same_checks(project, tmp_path):
    src = yaml.safe_load((project / "data" / "initiatives" / f"{RECORD}.yaml").read_text(encoding="utf-8"))
    bulk = project / "data" / "initiatives" / "bulk.jsonl"
    good = {**src, "id": "bulk-copy-of-the-hotline"}
    bulk.write_text(json.dumps(good, ensure_ascii=False) + "\n\n", encoding="utf-8")
    _edit(project, lambda rel: rel["reasons"].append({"ids": ["bulk-copy-of-the-hotline"], "reason": "a bulk record"}), "release.yaml")
    report = build(project, tmp_path / "ok.db")
    assert report["initiatives"] == 46
    bad = {**src, "id": "bulk-bad", "evidence": [{**src["evidence"][0], "start": 0}]}
    bulk.write_text(json.dumps(good, ensure_ascii=False) + "\n" + json.dumps(bad, ensure_ascii=False) + "\n{oops\n",
                    encoding="utf-8")
    with pytest.raises(DataError) as err:
        build(project, tmp_path / "bad.db")
    assert any(p.startswith("data/initiatives/bulk.jsonl:2: bulk-bad: evidence[0]: quote does not match the seed at 0-")
               for p in err.value.problems), err.value.problems
    assert any(p.startswith("data/initiatives/bulk.jsonl:3: not a JSON object") for p in err.value.problems)
    assert not (tmp_path / "bad.db").exists()
