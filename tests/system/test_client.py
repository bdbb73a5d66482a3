"""A generated client works the first time: openapi-python-client (pinned in pyproject.toml) builds one from
openapi.yaml, and with it, against the real server, a user pages through a query, reads a 400 as a Problem,
gets a query's CSV and GeoJSON from their export operations, a download as text, and the SQLite file intact.

Generated once per session into a temporary folder with `--meta none` (a bare package, imported from that
folder: nothing is installed, nothing fetched), with the repository's openapi-python-client.yaml.
"""
from __future__ import annotations

import csv
import importlib
import io
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from api.web.errors import PROBLEM_TYPES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "socialwork_generated_client"


def generate(target: Path) -> str:
    """Run the generator as a user would; its output (warnings included)."""
    bin_dir = Path(sys.executable).parent  # its post-hooks run ruff, installed beside it
    done = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(ROOT / "openapi.yaml"),
         "--config", str(ROOT / "openapi-python-client.yaml"), "--output-path", str(target), "--meta", "none"],
        capture_output=True, text=True, timeout=120, cwd=target.parent,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def warnings_in(output: str) -> list[str]:
    """Each warning the generator printed, as 'where: what'."""
    found = [f"{where}: {what}" for where, what in re.findall(
        r"WARNING parsing (.+?)\.\n\n(?:Cannot parse response for status code .+? \((.+?)\), response will be omitted)?",
        output)]
    found += re.findall(r"Unable to process schema (\S+?):", output)
    found += [line for line in output.splitlines() if "not in PATH" in line]
    return found


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """(the generator's output, the generated package imported)."""
    folder = tmp_path_factory.mktemp("client")
    output = generate(folder / PACKAGE)
    sys.path.insert(0, str(folder))
    try:
        yield output, importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture()
def client(generated, live_server):
    # Closed after the test: the server keeps connections alive (gthread), so the client's pool holds them open.
    with generated[1].Client(base_url=live_server, timeout=30) as client:
        yield client


def test_the_generator_warns_about_nothing_but_yaml(generated):
    output, _ = generated
    # openapi-python-client reads no YAML; /openapi.json is the same document as JSON, which it reads.
    assert warnings_in(output) == ["GET /openapi.yaml within contract: Unsupported content_type application/yaml"]


def test_the_client_has_a_problem_model_with_one_enum_of_problem_types(generated):
    from socialwork_generated_client.models import Problem, ProblemType, ProblemTypeUri  # noqa: F401

    # Every problem type the API documents (api/web/errors.py), whatever order the generator gives them.
    assert sorted(t.value for t in ProblemTypeUri) == [f"/api/v1/problems/{kind}" for kind in PROBLEM_TYPES]


def test_the_initiatives_in_jiangsu_in_2025_following_every_page(client):
    from socialwork_generated_client.api.initiatives import list_initiatives
    from socialwork_generated_client.models import InitiativeList

    ids, cursor, pages = [], None, 0
    while True:
        page = list_initiatives.sync(client=client, region=["江苏"], year="2025", limit=1,
                                     **({"cursor": cursor} if cursor else {}))
        assert isinstance(page, InitiativeList)
        pages += 1
        ids += [record.id for record in page.data]
        if page.links.next_ is None:
            break
        cursor = parse_qs(urlsplit(page.links.next_).query)["cursor"][0]
    assert ids == ["jiangsu-party-led-residential-compound-governance",
                   "lianyungang-hailian-community-new-employment-services",
                   "nantong-textile-association-industry-platform"]
    assert (pages, page.meta.total) == (3, 3)


@pytest.mark.parametrize("params, kind, title, detail, errors", [
    ({"region": ["火星"]}, "unknown-region", "Unknown region",
     "region: '火星' is not a GB/T 2260 code or a division name",
     {"region": ["'火星' is unknown; give a six-digit code, a Chinese name (四川省, 四川) or an English name (Sichuan)"]}),
    ({"limit": 0}, "invalid-parameter", "Invalid query parameter", "limit: must be an integer from 1 to 200",
     {"limit": ["must be an integer from 1 to 200"]}),
], ids=["unknown-region", "limit-0"])
def test_a_400_is_a_parsed_problem(client, params, kind, title, detail, errors):
    from socialwork_generated_client.api.initiatives import list_initiatives
    from socialwork_generated_client.models import Problem, ProblemTypeUri

    response = list_initiatives.sync_detailed(client=client, **params)
    problem = response.parsed
    assert (response.status_code, response.headers["content-type"]) == (400, "application/problem+json")
    assert isinstance(problem, Problem)
    assert problem.type_ == ProblemTypeUri("/api/v1/problems/" + kind)
    assert (problem.title, problem.status, problem.detail, problem.instance) == (title, 400, detail, "/api/v1/initiatives")
    assert problem.errors.to_dict() == errors


def test_a_csv_download_as_text(client):
    from socialwork_generated_client.api.downloads import get_download
    from socialwork_generated_client.models import GetDownloadName

    text = get_download.sync(client=client, name=GetDownloadName.KINDS_CSV).payload.read().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["id"]: row["name_zh"] for row in rows}["hotline"] == "热线"
    assert len(rows) == 16


def test_a_querys_csv_from_its_export_operation(client):
    """Each list's whole result has its own operation with one media type (/api/v1/initiatives.csv), which the
    generated client reads as text; `format_=csv` on the JSON list would be decoded as JSON."""
    from socialwork_generated_client.api.initiatives import export_initiatives_csv

    text = export_initiatives_csv.sync(client=client, region=["江苏"], year="2025")
    assert [row["id"] for row in csv.DictReader(io.StringIO(text))] == [
        "jiangsu-party-led-residential-compound-governance",
        "lianyungang-hailian-community-new-employment-services",
        "nantong-textile-association-industry-platform"]


def test_a_querys_geojson_from_its_export_operation(client):
    from socialwork_generated_client.api.initiatives import export_initiatives_geo_json
    from socialwork_generated_client.models import KindId

    collection = export_initiatives_geo_json.sync(client=client, kind=[KindId.HOTLINE]).to_dict()
    assert [(f["id"], f["geometry"]["type"]) for f in collection["features"]] == [("beijing-12345-hotline", "Point")]


def test_the_sqlite_download_is_intact(client, built_db, tmp_path):
    from socialwork_generated_client.api.downloads import get_download
    from socialwork_generated_client.models import GetDownloadName

    data = get_download.sync(client=client, name=GetDownloadName.SOCIALWORK_DB).payload.read()
    assert isinstance(data, bytes)
    assert data == built_db.read_bytes()  # the file the server serves
    saved = tmp_path / "socialwork.db"
    saved.write_bytes(data)
    with closing(sqlite3.connect(f"file:{saved}?mode=ro", uri=True)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM initiatives").fetchone() == (45,)


def test_a_range_of_the_sqlite_file_is_bytes(client):
    from socialwork_generated_client.api.downloads import get_download
    from socialwork_generated_client.models import GetDownloadName

    with client.with_headers({"Range": "bytes=0-15"}) as ranged:  # a client of its own, with its own pool
        response = get_download.sync_detailed(client=ranged, name=GetDownloadName.SOCIALWORK_DB)
    assert response.status_code == 206
    assert response.parsed.payload.read() == b"SQLite format 3\x00"
