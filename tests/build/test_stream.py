"""The streaming build: the fast record loader agrees with the schema, worker processes write what the main process
alone writes, JSON Lines are read as text files read them, the changelog and the manifest stream, and the command
shows its progress on a terminal only."""
from __future__ import annotations

import copy
import json
import os
import pty
import random
import select
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from marshmallow import ValidationError

from api.build import DataError, InitiativeSchema, build, fast_load, release

ROOT = Path(__file__).resolve().parents[2]
RECORD = "beijing-12345-hotline"
SCHEMA = InitiativeSchema()


def _records() -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "data" / "initiatives").glob("*.yaml"))]


def _schema(raw):
    try:
        return SCHEMA.load(raw)
    except ValidationError:
        return None


# ---------------------------------------------------------------- fast_load: the schema's result or nothing

def test_fast_load_gives_what_the_schema_gives_for_every_curated_record():
    vouched = 0
    for raw in _records():
        fast = fast_load(copy.deepcopy(raw))
        if fast is not None:
            vouched += 1
            loaded = SCHEMA.load(raw)
            assert fast == loaded and list(fast) == list(loaded), raw["id"]
            assert [list(o) for o in fast["organisations"]] == [list(o) for o in loaded["organisations"]]
    assert vouched >= 35   # all but the few with outside facts, which the schema loads


def _mutations(raw: dict, rng: random.Random):
    """Records one change away from raw: a key dropped or added, a value of another type or shape."""
    odd = [None, "", " ", "x", 0, -1, 1.5, float("nan"), True, [], {}, ["110000"], "2025-1", "2025\n", "１１００００",
           2200, 1948, "national", "stated", "unknown", {"zh": "a"}, [{"name_zh": "甲"}], b"bytes"]
    paths = []
    for key, value in raw.items():
        paths.append((key,))
        if isinstance(value, list):
            for i, item in enumerate(value):
                paths.append((key, i))
                if isinstance(item, dict):
                    paths.extend((key, i, k) for k in item)
    for path in paths:
        for value in rng.sample(odd, 4):
            rec = copy.deepcopy(raw)
            target = rec
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
            yield rec
        rec = copy.deepcopy(raw)
        target = rec
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]
        yield rec
    for key in ("colour", "place_zh", "date", "people", "regions_complete", "former_ids", "date_note_zh"):
        rec = copy.deepcopy(raw)
        rec[key] = rng.choice(odd[:12] + ["北京", "2025", [RECORD]])
        yield rec


def test_fast_load_never_accepts_what_the_schema_refuses_nor_differs_from_it():
    rng = random.Random(20260125)
    checked = 0
    for raw in _records():
        for rec in _mutations(raw, rng):
            fast = fast_load(copy.deepcopy(rec))
            if fast is not None:
                loaded = _schema(rec)
                assert loaded is not None, rec
                assert fast == loaded and list(fast) == list(loaded), rec
            checked += 1
    assert checked > 5000


# ---------------------------------------------------------------- worker processes write what one process writes

@pytest.fixture()
def project(tmp_path) -> Path:
    for sub in ("data", "seeds"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    return tmp_path


def _bulk(project: Path, lines: list[str], reasons: list[str], newline: str = "\n"):
    (project / "data" / "initiatives" / "bulk.jsonl").write_bytes(newline.join(lines).encode("utf-8") + newline.encode())
    path = project / "data" / "release.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if reasons:
        doc["reasons"].append({"ids": reasons, "reason": "bulk records"})
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _copies(count: int) -> tuple[list[str], list[str]]:
    """count copies of a curated record under new ids, as JSON Lines, in no id order."""
    src = yaml.safe_load((ROOT / "data" / "initiatives" / f"{RECORD}.yaml").read_text(encoding="utf-8"))
    ids = [f"bulk-{(i * 7919) % count:04d}" for i in range(count)]
    return [json.dumps({**src, "id": rid}, ensure_ascii=False) for rid in ids], ids


def _tables(db: Path) -> dict:
    conn = sqlite3.connect(db)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    without_rowid = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%WITHOUT ROWID%'")}
    out = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2' if t in without_rowid
                           else f'SELECT rowid, * FROM "{t}" ORDER BY rowid').fetchall()
           for t in names if not t.startswith("sqlite_") and t != "meta"}
    out["meta"] = conn.execute("SELECT key, value FROM meta WHERE key != 'counts' ORDER BY key").fetchall()
    out["schema"] = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    conn.close()
    return out


def test_workers_write_the_same_file_as_the_main_process_alone(project, tmp_path):
    lines, ids = _copies(2500)
    lines.insert(3, "   ")                  # blank lines are no records
    lines.insert(10, "\u3000")
    _bulk(project, lines, ids, newline="\r\n")
    one = build(project, tmp_path / "one.db", workers=0)
    two = build(project, tmp_path / "two.db", workers=2)
    assert one["initiatives"] == two["initiatives"] == 45 + 2500
    assert one["version"] == two["version"]
    assert _tables(tmp_path / "one.db") == _tables(tmp_path / "two.db")
    conn = sqlite3.connect(tmp_path / "two.db")
    assert [r[0] for r in conn.execute("SELECT id FROM initiatives ORDER BY n")] == sorted(ids + [p.stem for p in (
        ROOT / "data" / "initiatives").glob("*.yaml")])
    conn.execute("INSERT INTO initiatives_fts (initiatives_fts) VALUES ('integrity-check')")


def test_an_id_the_plan_guesses_wrong_is_numbered_by_its_real_id(project, tmp_path):
    lines, ids = _copies(30)
    lines[5] = lines[5].replace('"id": "bulk-', '"id": "bulk\\u002d')   # the same id, written with a JSON escape
    lines[6] = lines[6].replace('"id": "bulk-', '"id": "a-bulk-')
    ids[6] = ids[6].replace("bulk-", "a-bulk-")
    _bulk(project, lines, ids)
    report = build(project, tmp_path / "x.db", workers=2)
    assert report["initiatives"] == 45 + 30
    got = [r[0] for r in sqlite3.connect(tmp_path / "x.db").execute("SELECT id FROM initiatives ORDER BY n")]
    assert got == sorted(got) and len(set(got)) == len(got)


def test_faults_in_bulk_files_are_named_the_same_with_workers(project, tmp_path):
    lines, ids = _copies(3000)
    bad = json.loads(lines[100])
    bad["kind"] = "hotlines"
    lines[100] = json.dumps(bad, ensure_ascii=False)
    lines[200] = lines[7]                                  # the same record twice
    lines[300] = "{oops"
    lines[400] = lines[400].replace('"metrics": [{', '"metrics": [{"colour": "red", ')
    _bulk(project, lines, sorted(set(ids)))
    problems = {}
    for workers in (0, 2):
        with pytest.raises(DataError) as err:
            build(project, tmp_path / f"w{workers}.db", workers=workers)
        problems[workers] = err.value.problems
        assert not (tmp_path / f"w{workers}.db").exists()
    assert problems[0] == problems[2]
    rel = "data/initiatives/bulk.jsonl"
    assert f"{rel}:101: {bad['id']}: kind: 'hotlines' is not one of" in "\n".join(problems[0])
    assert any(p.startswith(f"{rel}:301: not a JSON object: ") for p in problems[0])
    assert f"{rel}:401: {ids[400]}: metrics[0].colour: Unknown field." in problems[0]
    assert f"data/initiatives: {ids[7]}: id is not unique" in problems[0]
    assert f"data/release.yaml: reasons: {ids[200]} did not change in this release (or is not a record id)" in problems[0]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [], "no temporary file is left behind"


def test_the_cross_record_faults_are_reported_in_input_order(project, tmp_path):
    """An id twice (a copy), a former id that is a current id, a former id claimed twice: each once, in the order
    the records come in the input, with the release's own problem after them."""
    src = project / "data" / "initiatives" / f"{RECORD}.yaml"
    (src.parent / "copy.yaml").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    other = project / "data" / "initiatives" / "zhejiang-courier-academy.yaml"
    rec = yaml.safe_load(other.read_text(encoding="utf-8"))
    rec["former_ids"] = [RECORD, "old-name", "old-name"]
    other.write_text(yaml.safe_dump(rec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DataError) as streamed:
        build(project, tmp_path / "x.db")
    assert streamed.value.problems == [
        "data/initiatives/copy.yaml: beijing-12345-hotline: id: must equal the file name (copy)",
        "data/initiatives: beijing-12345-hotline: id is not unique",
        "data/initiatives: zhejiang-courier-academy: former_ids: beijing-12345-hotline is a current record's id",
        "data/initiatives: zhejiang-courier-academy: former_ids: old-name already redirects to zhejiang-courier-academy",
        "data/release.yaml: reasons: beijing-12345-hotline was changed since 1.1.0 (name_en, summary_en) and needs a "
        "one-line reason",
        # the academy's reason names no change of its former ids, which this test gave it (the rule of release 1.2.0)
        "data/release.yaml: reasons: zhejiang-courier-academy: the reason names no change to its former ids (former_ids), "
        "which changed since 1.1.0",
    ]


# ---------------------------------------------------------------- the release streams

def test_the_manifest_is_read_a_record_at_a_time_as_json_reads_it(tmp_path):
    path = ROOT / "data" / "releases" / "1.0.0.json"
    records: dict = {}
    header = release.read_manifest(path, records.__setitem__)
    whole = json.loads(path.read_text(encoding="utf-8"))
    assert records == whole.pop("records") and header == whole
    odd = tmp_path / "odd.json"
    odd.write_text('  {"records": {"a": {"id": "x"} , "b":{}},"note":"n\\u00e9", "fields": {"id": 12.5e3}}\n', encoding="utf-8")
    records = {}
    assert release.read_manifest(odd, records.__setitem__) == {"note": "né", "fields": {"id": 12500.0}}
    assert records == {"a": {"id": "x"}, "b": {}}
    for broken in ('{"records": {"a": }}', '[1, 2]', '{"records": {"a": {}}} x', '{"note": "n"'):
        odd.write_text(broken, encoding="utf-8")
        with pytest.raises(ValueError):
            release.read_manifest(odd, {}.__setitem__)


# ---------------------------------------------------------------- progress on a terminal, the summary anywhere

def _command(project: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "api.build", "--data", str(project), "--db", str(db)]


def _in_a_terminal(cmd: list[str], env: dict) -> str:
    """What a terminal shows while cmd runs with stdout and stderr on it (a pseudo-terminal)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=child, stdout=child, stderr=child, cwd=ROOT, env=env)
    os.close(child)
    out = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:   # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(main)
    assert proc.returncode == 0, out.decode("utf-8", "replace")
    return out.decode("utf-8")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(extra)
    return env


def test_on_a_terminal_the_build_shows_its_progress_and_a_summary(project, tmp_path):
    shown = _in_a_terminal(_command(project, tmp_path / "t.db"), _env())
    assert "check and write: read 45 of 45 · checked 45 · written 45 · 0:0" in shown
    assert "elapsed" in shown and "\r\x1b[K" in shown
    assert "built 45 records in 0:0" in shown and f"{tmp_path / 't.db'}" in shown
    assert '"initiatives": 45' in shown


def test_in_ci_and_in_pipes_the_build_prints_only_the_summary(project, tmp_path):
    shown = _in_a_terminal(_command(project, tmp_path / "ci.db"), _env(CI="true"))
    assert ": read " not in shown and "elapsed" not in shown and "\x1b[K" not in shown
    assert json.loads(shown[shown.index("{"):])["initiatives"] == 45
    piped = subprocess.run(_command(project, tmp_path / "pipe.db"), capture_output=True, text=True, cwd=ROOT, env=_env())
    assert piped.returncode == 0, piped.stderr
    assert ": read " not in piped.stderr and "elapsed" not in piped.stderr
    report = json.loads(piped.stdout)
    assert (report["initiatives"], report["path"]) == (45, str(tmp_path / "pipe.db"))
