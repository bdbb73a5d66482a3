"""Release 1.2.0 (and what 1.1.0 brought, which stays): the semantic version and its computed changelog, renamed ids that redirect, people, outside facts,
stock and flow figures, "and other places", and a region's records together with the national ones."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from api.build import DataError, InitiativeSchema, build, checked_records, release

ROOT = Path(__file__).resolve().parents[2]
RELEASE = yaml.safe_load((ROOT / "data" / "release.yaml").read_text(encoding="utf-8"))
PREVIOUS = RELEASE["previous"]


# ---------------------------------------------------------------- the release as the build computes it

def test_this_release_is_1_2_0_a_minor_release_over_1_1_0(built_db):
    import sqlite3
    meta = dict(sqlite3.connect(built_db).execute("SELECT key, value FROM meta").fetchall())
    summary = json.loads(meta["release"])
    assert (summary["version"], summary["previous"], summary["level"]) == ("1.2.0", "1.1.0", "minor")
    assert summary["fields_removed"] == [] and summary["fields_retyped"] == []
    assert summary["fields_added"] == ["note_en", "note_zh"]


def test_the_changelog_lists_every_record_that_differs_from_the_previous_manifest(built_db):
    import sqlite3
    conn = sqlite3.connect(built_db)
    rows = conn.execute("SELECT change, initiative_id, previous_id, fields, reason FROM changelog ORDER BY ord").fetchall()
    before = json.loads((ROOT / "data" / "releases" / f"{PREVIOUS}.json").read_text(encoding="utf-8"))["records"]
    now = {r[0] for r in conn.execute("SELECT id FROM initiatives")}
    added = {r[1] for r in rows if r[0] == "added"}
    assert added == now - set(before) == set()
    assert [r for r in rows if r[0] == "renamed"] == []
    assert [r for r in rows if r[0] == "removed"] == []
    assert all(r[4] for r in rows), "every change has its reason"
    # A record the release did not touch is not listed: the changelog is computed, not a copy of the ids.
    current = {r["id"]: r for r in _records()}
    for rid in (set(before) & now) - {r[1] for r in rows}:
        digests = release.manifest([current[rid]], InitiativeSchema(), "x")["records"][rid]
        assert {k: digests[k] for k in before[rid]} == before[rid], rid


def _records():
    return checked_records(ROOT)


@pytest.fixture()
def project(tmp_path) -> Path:
    for sub in ("data", "seeds"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    return tmp_path


def _release_yaml(project: Path, **changes):
    """Change data/release.yaml; a new version goes into data/datapackage.json too, which must state the same."""
    path = project / "data" / "release.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    package = project / "data" / "datapackage.json"
    package.write_text(json.dumps({**json.loads(package.read_text(encoding="utf-8")), "version": doc["version"]}), encoding="utf-8")


def test_the_data_package_states_the_release_s_version(project, tmp_path):
    package = project / "data" / "datapackage.json"
    package.write_text(json.dumps({**json.loads(package.read_text(encoding="utf-8")), "version": "1.0.0"}), encoding="utf-8")
    assert _problems(project, tmp_path) == [
        "data/datapackage.json: version: '1.0.0' is not this release's (1.2.0, data/release.yaml)"]


def _problems(project: Path, tmp_path: Path) -> list[str]:
    with pytest.raises(DataError) as err:
        build(project, tmp_path / "out.db")
    assert not (tmp_path / "out.db").exists()
    return err.value.problems


def test_a_version_that_does_not_match_the_changes_is_refused(project, tmp_path):
    _release_yaml(project, version="1.1.1")
    assert _problems(project, tmp_path) == [
        "data/release.yaml: version: 1.1.1, but the changes since 1.1.0 make it 1.2.0 (MINOR: records or fields added)"]


def test_a_removed_record_makes_a_major_release_and_needs_its_reason(project, tmp_path):
    (project / "data" / "initiatives" / "township-duties-lists.yaml").unlink()  # untouched by 1.2.0
    problems = _problems(project, tmp_path)
    assert "data/release.yaml: reasons: township-duties-lists was removed since 1.1.0 (the whole record) and needs a one-line reason" in problems
    assert "data/release.yaml: version: 1.2.0, but the changes since 1.1.0 make it 2.0.0 (MAJOR: a field removed or retyped, or a record removed with no redirect)" in problems


def test_a_reason_for_a_record_that_did_not_change_is_refused(project, tmp_path):
    _release_yaml(project, reasons=RELEASE["reasons"] + [{"ids": ["no-such-record"], "reason": "typo"}])
    assert _problems(project, tmp_path) == [
        "data/release.yaml: reasons: no-such-record did not change in this release (or is not a record id)"]


def test_a_changed_record_without_a_reason_is_refused(project, tmp_path):
    reasons = [{**e, "ids": [i for i in e["ids"] if i != "fujian-riders-as-grid-workers"]} for e in RELEASE["reasons"]]
    _release_yaml(project, reasons=[e for e in reasons if e["ids"]])
    problems = _problems(project, tmp_path)
    assert len(problems) == 1 and problems[0].startswith(
        "data/release.yaml: reasons: fujian-riders-as-grid-workers was changed since 1.1.0 ("), problems


def test_a_missing_previous_manifest_is_named(project, tmp_path):
    (project / "data" / "releases" / "1.1.0.json").unlink()
    problems = _problems(project, tmp_path)
    assert problems[0].startswith("data/release.yaml: previous: the manifest of 1.1.0 (data/releases/1.1.0.json) cannot be read"), problems


def test_a_first_release_lists_every_record_as_added(project, tmp_path):
    _release_yaml(project, version="1.0.0", previous=None, reasons=[])
    report = build(project, tmp_path / "first.db")
    import sqlite3
    rows = sqlite3.connect(tmp_path / "first.db").execute("SELECT change, reason FROM changelog").fetchall()
    assert len(rows) == report["initiatives"] and set(rows) == {("added", "first release")}


@pytest.mark.parametrize("before, change, level", [
    ({"a": "string"}, {"a": "string", "b": "string"}, "minor"),
    ({"a": "string", "b": "string"}, {"a": "string"}, "major"),
    ({"a": "string"}, {"a": "integer"}, "major"),
])
def test_the_level_follows_the_fields(before, change, level):
    assert release.bump("1.4.2", level) == {"minor": "1.5.0", "major": "2.0.0"}[level]
    added, removed = set(change) - set(before), set(before) - set(change)
    retyped = {f for f in set(before) & set(change) if before[f] != change[f]}
    assert ("major" if removed or retyped else "minor" if added else "patch") == level


def test_the_manifest_is_small_and_per_field():
    m = release.manifest([{"id": "x", "name_zh": "甲", "metrics": []}], InitiativeSchema(), "9.9.9")
    assert m["records"] == {"x": {"id": release._digest("x"), "metrics": release._digest([]), "name_zh": release._digest("甲")}}
    assert all(len(d) == 12 for d in m["records"]["x"].values())


# ---------------------------------------------------------------- the API

def test_the_changelog_is_served_with_the_release(client):
    r = client.get("/api/v1/changelog")
    assert r.status_code == 200
    body = r.get_json()
    assert body["meta"]["release"]["version"] == "1.2.0"
    assert body["meta"]["total"] == len(body["data"])
    changed = next(e for e in body["data"] if e["initiative_id"] == "nantong-textile-association-industry-platform")
    assert (changed["change"], changed["previous_id"]) == ("changed", "nantong-textile-association-industry-platform")
    assert changed["fields"] == ["date_note_en", "date_note_zh", "year_basis"]
    assert changed["url"] == "http://localhost/api/v1/initiatives/nantong-textile-association-industry-platform"
    assert client.get("/api/v1").get_json()["release"] == body["meta"]["release"]


def test_the_changelog_as_csv_has_the_download_s_columns(client):
    r = client.get("/api/v1/changelog?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).splitlines()[0] == "release,ord,change,initiative_id,previous_id,fields,reason"
    assert client.get("/downloads/changelog.csv").get_data(as_text=True) == r.get_data(as_text=True)


def test_a_former_id_redirects_permanently_keeping_the_query(client):
    r = client.get("/api/v1/initiatives/villagers-committees-organic-law-revision?format=json")
    assert r.status_code == 301
    assert r.headers["Location"] == "http://localhost/api/v1/initiatives/villagers-committees-organic-law-amendment?format=json"
    assert r.get_json() == {"id": "villagers-committees-organic-law-amendment",
                            "former_id": "villagers-committees-organic-law-revision", "url": r.headers["Location"]}
    new = client.get(r.headers["Location"]).get_json()
    assert new["former_ids"] == ["villagers-committees-organic-law-revision"]
    assert client.get("/api/v1/initiatives/no-such-record").status_code == 404
    page = client.get("/initiatives/volunteer-project-neighbourhood-watch")
    assert (page.status_code, page.headers["Location"]) == (301, "http://localhost/initiatives/volunteer-project-neighbours-looking-out")


def test_the_laws_dates_are_outside_facts_with_their_source_not_the_article_s(client):
    for rid in ("villagers-committees-organic-law-amendment", "urban-residents-committees-organic-law-revision"):
        body = client.get(f"/api/v1/initiatives/{rid}").get_json()
        # The year of what the article reports, the entry into force (施行), from the cited source.
        assert (body["year"], body["year_basis"], body["date"]) == (2026, "cited", None)
        assert {(f["fact"], f["value"]) for f in body["outside_facts"]} == {("adopted", "2025-10-28"), ("in-force", "2026-01-01")}
        assert all(f["source"]["url"].startswith("http") and f["source"]["relied_on"] for f in body["outside_facts"])
        assert "2025" not in body["summary_en"] and "came into force" not in body["summary_en"]
        # The article says 新修改的 of both: revised (修订) and amended (修正) are the outside facts'.
        assert body["name_en"].startswith("Newly amended Organic Law") and "revised" not in body["summary_en"]
        assert body["note_en"].startswith("This record shares its one sentence of the article")


def test_people_are_on_their_record_and_found_by_q(client):
    body = client.get("/api/v1/initiatives/lianyungang-hailian-community-new-employment-services").get_json()
    li = next(p for p in body["people"] if p["name_zh"] == "李肖娜")
    assert li["name_en"] == "Li Xiaona" and "全国人大代表" in [r["zh"] for r in li["roles"]]
    for q in ("李肖娜", "Li Xiaona", "赵希锦", "刘强"):
        hits = client.get("/api/v1/initiatives", query_string={"q": q}).get_json()
        assert hits["meta"]["total"] >= 1, q
        assert all("people" in h["match"]["fields"] for h in hits["data"]), q


def test_and_other_places_is_data(client):
    body = client.get("/api/v1/initiatives", query_string={"region": "福建", "limit": 200}).get_json()
    flags = {r["id"]: r["regions_complete"] for r in body["data"]}
    assert flags["fujian-professional-social-work-expansion"] is False
    assert flags["fujian-riders-as-grid-workers"] is True


@pytest.mark.parametrize("figure, measure", [("2580.2万件", "flow"), ("1.2万余个", "stock"), ("82个", "stock"),
                                             ("4110名", "stock"), ("672个", "stock"), ("18.4%", "change")])
def test_each_figure_says_whether_it_is_a_stock_or_a_flow(client, figure, measure):
    rows = client.get("/api/v1/metrics?limit=200").get_json()["data"]
    assert next(m["measure"] for m in rows if m["figure_text"] == figure) == measure


def test_a_region_with_the_national_initiatives(client):
    own = client.get("/api/v1/initiatives", query_string={"region": "北京", "limit": 200}).get_json()
    national = client.get("/api/v1/initiatives", query_string={"scope": "national", "limit": 200}).get_json()
    both = client.get("/api/v1/initiatives", query_string={"region": "北京", "include_national": "true", "limit": 200}).get_json()
    assert [r["id"] for r in own["data"]] == ["beijing-12345-hotline"]
    assert sorted(r["id"] for r in both["data"]) == sorted(["beijing-12345-hotline"] + [r["id"] for r in national["data"]])
    assert both["meta"]["total"] == 1 + national["meta"]["total"] and both["meta"]["include_national"] is True
    facets = client.get("/api/v1/facets", query_string={"region": "北京", "include_national": "true"}).get_json()
    assert {s["id"]: s["count"] for s in facets["data"]["scope"]} == {"local": 1, "national": national["meta"]["total"]}
    assert facets["meta"]["include_national"] is True


def test_include_national_without_a_region_is_a_400_that_says_why(client):
    r = client.get("/api/v1/initiatives?include_national=true")
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert r.get_json()["errors"] == {"include_national": [
        "adds the national initiatives to a region filter; give region too "
        "(without region every initiative, national ones included, is listed)"]}
    assert client.get("/api/v1/initiatives?region=北京&include_national=yes").get_json()["errors"] == {
        "include_national": ["must be true or false"]}


def test_the_landing_page_lists_the_release_s_changelog(client):
    body = client.get("/").get_data(as_text=True)
    changes = client.get("/api/v1/changelog").get_json()["data"]
    rows = re.findall(r'<tr data-change="(\w+)"><td[^>]*>(?:<a href="/initiatives/([a-z0-9-]+)">)?', body)
    assert [change for change, _ in rows] == [c["change"] for c in changes]
    assert [rid for _, rid in rows] == [c["initiative_id"] for c in changes]
    assert "What changed in release 1.2.0" in body and 'href="/api/v1/changelog"' in body
    assert "new fields: note_en, note_zh." in body


def test_the_current_release_s_manifest_is_the_records_as_they_are():
    """data/releases/<version>.json is what the next release compares with: it must be the records now, field for field."""
    version = RELEASE["version"]
    stored = json.loads((ROOT / "data" / "releases" / f"{version}.json").read_text(encoding="utf-8"))
    current = release.manifest(_records(), InitiativeSchema(), version)
    assert (stored["release"], stored["fields"]) == (version, current["fields"])
    changed = sorted(rid for rid in set(stored["records"]) | set(current["records"])
                     if stored["records"].get(rid) != current["records"].get(rid))
    assert changed == [], f"records changed since the manifest was written: run .venv/bin/python -m api.build --manifest data/releases/{version}.json"
