"""Third-party tools on the downloads, as a user runs them: frictionless on both descriptors, sqlite-utils and
Datasette on the database file, pandas on the CSV."""
from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from pathlib import Path

import frictionless
import pandas as pd
import pytest
import sqlite_utils

from api.dataset.tables import PUBLIC_TABLES
from api.site.downloads import DOWNLOADS

ROOT = Path(__file__).resolve().parents[2]
TABLE_FILES = [t.filename for t in PUBLIC_TABLES.values()]


def _report(source) -> frictionless.Report:
    return frictionless.validate(source)


def _errors(report: frictionless.Report) -> list:
    return [(task.name, e.type, e.message) for task in report.tasks for e in task.errors] + \
           [(None, e.type, e.message) for e in report.errors]


def test_the_source_side_descriptor_validates():
    report = _report(str(ROOT / "data" / "datapackage.json"))
    assert _errors(report) == []
    assert report.valid
    tables = {t.name: t.stats["rows"] for t in report.tasks if t.type == "table"}
    assert tables == {"regions": 3211, "region-aliases": 4}


@pytest.fixture()
def downloaded(client, tmp_path) -> Path:
    """The descriptor as /downloads/ serves it and every file it lists, written side by side as a user saves them."""
    package = client.get("/downloads/datapackage.json")
    assert package.status_code == 200
    (tmp_path / "datapackage.json").write_bytes(package.get_data())
    for res in json.loads(package.get_data())["resources"]:
        resp = client.get(f"/downloads/{res['path']}")
        assert resp.status_code == 200, res["path"]
        (tmp_path / res["path"]).write_bytes(resp.get_data())
        resp.close()  # socialwork.db is sent from an open file
    return tmp_path


def test_the_served_descriptor_validates_with_every_row_and_key(downloaded):
    report = _report(str(downloaded / "datapackage.json"))
    assert _errors(report) == []
    assert report.valid
    rows = {t.name: t.stats["rows"] for t in report.tasks if t.type == "table"}
    assert rows == {"initiatives": 45, "initiative-regions": 18, "metrics": 9, "evidence": 62, "people": 5, "outside-facts": 4,
                    "changelog": 29, "regions": 3211, "region-aliases": 4, "kinds": 16, "themes": 3, "sources": 1}


def test_a_broken_key_in_a_download_is_found(downloaded):
    """The check above has teeth: a quote pointing at a record that does not exist fails the foreign key."""
    path = downloaded / "evidence.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("beijing-12345-hotline", "beijing-12345-hotlines", 1), encoding="utf-8")
    report = _report(str(downloaded / "datapackage.json"))
    assert ("evidence", "foreign-key") in {(name, kind) for name, kind, _ in _errors(report)}


def test_the_served_descriptor_describes_exactly_what_downloads_serves(client):
    package = client.get("/downloads/datapackage.json").get_json()
    listed = {d["name"] for d in client.get("/downloads/").get_json()["data"]}
    assert {r["path"] for r in package["resources"]} == listed - {"datapackage.json"}
    dataset = client.get("/api/v1").get_json()
    # version is the release (semantic, Frictionless' recipe); the content hash the ETags rest on is beside it.
    assert (package["version"], package["x-content-version"]) == (dataset["release"]["version"], dataset["version"]) == (
        "1.2.0", dataset["version"])
    assert package["x-release"] == dataset["release"]
    assert package["created"] == json.loads((ROOT / "data" / "datapackage.json").read_text(encoding="utf-8"))["created"]
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    assert package["sources"][0]["title"].startswith("新华社 Xinhua News Agency: 凝心聚力推动社会工作高质量发展")
    assert "Copyright stays with the publisher" in package["sources"][0]["description"]
    assert package["contributors"]
    for res in package["resources"]:
        if res["type"] != "table":
            continue
        header = client.get(f"/downloads/{res['path']}").get_data(as_text=True).splitlines()[0].split(",")
        assert [f["name"] for f in res["schema"]["fields"]] == header, res["path"]
    regions = next(r for r in package["resources"] if r["name"] == "regions")["schema"]
    code = next(f for f in regions["fields"] if f["name"] == "parent_code")
    assert (code["type"], code["constraints"]["pattern"]) == ("string", "^[0-9]{6}$")
    metrics = next(r for r in package["resources"] if r["name"] == "metrics")["schema"]
    assert metrics["primaryKey"] == ["initiative_id", "ord"]
    assert metrics["foreignKeys"] == [{"fields": ["initiative_id"], "reference": {"resource": "initiatives", "fields": ["id"]}}]


# --- the database file in sqlite-utils and Datasette -------------------------------------------

def _fk(db, table):
    return sorted((f.column, f.other_table, f.other_column) for f in db[table].foreign_keys)


def test_the_database_declares_its_foreign_keys(built_db):
    db = sqlite_utils.Database(sqlite3.connect(f"file:{built_db}?mode=ro", uri=True))
    assert _fk(db, "metrics") == [("initiative_id", "initiatives", "id"), ("initiative_n", "initiatives", "n")]
    assert _fk(db, "evidence") == [("initiative_id", "initiatives", "id"), ("initiative_n", "initiatives", "n"),
                                   ("source_id", "sources", "id")]
    assert _fk(db, "initiative_regions") == [("initiative_id", "initiatives", "id"), ("initiative_n", "initiatives", "n"),
                                             ("region_code", "regions", "code")]
    assert _fk(db, "initiatives") == [("kind", "kinds", "id"), ("source_id", "sources", "id"), ("theme", "themes", "id")]
    assert _fk(db, "regions") == [("parent_code", "regions", "code"), ("province_code", "regions", "code")]
    assert _fk(db, "region_aliases") == [("successor_code", "regions", "code")]
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    value = db.execute("SELECT m.value FROM metrics m WHERE m.initiative_id = 'beijing-12345-hotline'").fetchone()[0]
    assert (type(value), value) == (int, 25802000)
    growth = db.execute("SELECT value FROM metrics WHERE figure_text = '18.4%'").fetchone()[0]
    assert (type(growth), growth) == (float, 18.4)
    db.conn.close()


def test_datasette_shows_labels_descriptions_and_the_licence(client, built_db):
    from datasette.app import Datasette

    metadata = client.get("/downloads/metadata.json").get_json()
    name = built_db.stem
    assert name in metadata["databases"]  # the file keeps its download name, socialwork.db
    ds = Datasette(files=[str(built_db)], immutables=[], metadata=metadata)

    async def get(path):
        return await ds.client.get(path)

    async def run():
        return [await get(p) for p in (f"/{name}/metrics.json?_labels=on&_shape=objects",
                                       "/-/metadata.json", f"/{name}/metrics")]

    rows, meta, page = asyncio.run(run())
    assert rows.status_code == 200, rows.text
    hotline = next(r for r in rows.json()["rows"] if r["figure_text"] == "2580.2万件")
    assert hotline["value"] == 25802000
    assert hotline["initiative_id"] == {"value": "beijing-12345-hotline",
                                        "label": "Beijing 12345 hotline: Swift Response to Public Complaints"}
    assert meta.json()["license"].startswith("CC BY 4.0")
    assert "creativecommons.org/licenses/by/4.0" in page.text
    assert "The figure exactly as the article writes it" in page.text


# --- CSV in pandas and Excel ------------------------------------------------------------------

def test_pandas_keeps_codes_as_text_with_the_documented_dtype(client):
    body = client.get("/downloads/regions.csv").get_data()
    regions = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    beijing = regions.set_index("code").loc["110000"]
    assert beijing["parent_code"] == "" and beijing["province_code"] == "110000"
    assert regions.set_index("code").loc["110101"]["parent_code"] == "110000"
    assert all(regions["code"].str.fullmatch(r"[0-9]{6}"))


def test_the_bom_variant_opens_in_excel_and_pandas(client):
    plain = client.get("/downloads/regions.csv")
    bom = client.get("/downloads/regions.csv?bom=1")
    assert bom.get_data().startswith(b"\xef\xbb\xbf") and not plain.get_data().startswith(b"\xef\xbb\xbf")
    assert bom.get_data()[3:] == plain.get_data()
    assert bom.headers["ETag"] != plain.headers["ETag"]
    frame = pd.read_csv(io.BytesIO(bom.get_data()), dtype=str, keep_default_na=False)
    assert frame.columns[0] == "code"
    assert client.get("/downloads/regions.csv?bom=true").get_data() == bom.get_data()
    assert client.get("/downloads/regions.csv?bom=maybe").status_code == 400


def test_every_csv_joins_list_cells_with_semicolons(client):
    table = pd.read_csv(io.BytesIO(client.get("/downloads/initiatives-table.csv").get_data()), dtype=str,
                        keep_default_na=False).set_index("id")
    api = pd.read_csv(io.BytesIO(client.get("/api/v1/initiatives?format=csv").get_data()), dtype=str,
                      keep_default_na=False).set_index("id")
    several = table[table["region_codes"].str.contains(";")]
    assert len(several) == 1
    assert (api.loc[several.index, "region_codes"] == several["region_codes"]).all()
    assert not table["region_codes"].str.contains(",").any()


@pytest.mark.parametrize("name, api", [("regions.csv", "/api/v1/regions?format=csv"), ("kinds.csv", "/api/v1/kinds?format=csv"),
                                       ("themes.csv", "/api/v1/themes?format=csv"), ("sources.csv", "/api/v1/sources?format=csv")])
def test_a_download_named_like_an_api_export_is_that_export(client, name, api):
    assert client.get(f"/downloads/{name}").get_data() == client.get(api).get_data()


def test_no_download_shares_a_name_with_an_api_export_of_another_shape(client):
    assert "initiatives.csv" not in DOWNLOADS and "metrics.csv" not in DOWNLOADS
    assert client.get("/api/v1/initiatives?format=csv").headers["Content-Disposition"] == 'attachment; filename="initiatives.csv"'
