"""The build's record pipeline: every record under data/initiatives read, checked and turned into table rows, in id
order, by worker processes while the main process writes the rows (api/build/writer.py). Nothing holds the records.

1. Plan. Each JSON Lines file is scanned for its lines (byte offset, size, line number) and the id each line
   appears to have (a regex, no parsing); a YAML file is one record whose id must be its name. One row per
   record goes into a table of the stage database, and an index sorts them by id. That is the order in which
   records are numbered (n) and written.
2. Check. The plan is cut into chunks of CHUNK records in id order. A worker reads each record of a chunk
   (pread), parses it, runs checks.RecordChecker on it (every check, the same messages) and packs the rows
   of every table for it, numbered from the chunk's first n. The main process takes the chunks back in order
   and writes them (writer.Writer), so writing overlaps parsing and checking: both cores work.
3. The guessed id of a record that loads is compared with its real one. If any differs (an id written with
   JSON escapes, two "id" keys, a YAML file not named after its id), the order may be wrong: the build starts
   again with a plan of the real ids (an extra parse of every record), so the result never depends on the guess.

Small inputs (the curated dataset) run in the main process: the same functions, with no workers.
"""
from __future__ import annotations

import json
import marshal
import multiprocessing
import os
import sqlite3
from collections import Counter, deque
from pathlib import Path
from typing import NamedTuple

from ..dataset import search
from ..dataset.tables import ROWS
from . import release
from .checks import RecordChecker
from .files import RecordFile, read_yaml, scan_jsonl
from .rules import fast_load

CHUNK = 1000                    # records per job sent to a worker
IN_FLIGHT_PER_WORKER = 3        # jobs queued or running per worker: bounds the main process's memory
WORKERS_FROM_BYTES = 8 << 20    # below this much input the main process does it all


# ---------------------------------------------------------------------------------------------------- workers

class _State:
    """What a worker needs, set in the main process before the workers are forked (so they share it)."""

    checker: RecordChecker | None = None
    files: list[RecordFile] = []
    chain: dict[str, list[str]] = {}
    digests = False
    counters = None            # shared (read, checked) counts, for the progress line
    fds: dict[int, int] = {}


STATE = _State()


def prepare(checker: RecordChecker, files: list[RecordFile], chain: dict[str, list[str]], digests: bool, counters=None):
    STATE.checker, STATE.files, STATE.chain, STATE.digests, STATE.counters = checker, files, chain, digests, counters
    STATE.fds = {}


def read_entry(entry) -> tuple[str, object, str | None] | tuple[None, list[str], None] | None:
    """(where, raw record, stem) for a plan entry; (None, problems, None) when it cannot be read; None for a blank line."""
    _seq, file_no, start, size, line, _guess = entry
    src = STATE.files[file_no]
    if not src.jsonl:
        problems: list[str] = []
        raw = read_yaml(Path(src.path), problems)
        if raw is None:
            return (None, problems, None) if problems else None   # an empty file is no record
        return src.rel, raw, Path(src.path).stem
    fd = STATE.fds.get(file_no)
    if fd is None:   # read, not mapped: a mapped file would count in this process's resident memory
        fd = STATE.fds[file_no] = os.open(src.path, os.O_RDONLY)
    data = os.pread(fd, size, start)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"{src.rel}:{line}: cannot be read as UTF-8: {exc}"], None
    if text.endswith("\r\n"):
        text = text[:-2] + "\n"
    elif text.endswith("\r"):
        text = text[:-1] + "\n"
    if not text.strip():
        return None
    try:
        return f"{src.rel}:{line}", json.loads(text), None
    except ValueError as exc:
        return None, [f"{src.rel}:{line}: not a JSON object: {exc}"], None


def real_ids(entries) -> bytes:
    """(seq, id) of each entry, the id as the schema loads it ('' when it does not load): the exact plan."""
    out = []
    schema = STATE.checker.schema
    for entry in entries:
        got = read_entry(entry)
        rid = ""
        if got is not None and got[0] is not None:
            raw = got[1]
            rec = fast_load(raw)
            if rec is None:
                try:
                    rec = schema.load(raw)
                except Exception:   # noqa: BLE001 - a record that does not load has no id to sort by
                    rec = None
            rid = rec["id"] if rec else ""
        out.append((entry[0], rid))
    return marshal.dumps(out)


_JSON = json.JSONEncoder(ensure_ascii=False).encode             # json.dumps(value, ensure_ascii=False)
_JSON_DATES = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _dumps(value: list) -> str:
    return _JSON(value) if value else "[]"


def people_text(people: list[dict]) -> str | None:
    """What q searches of a record's people: their names and roles in both languages."""
    if not people:
        return None
    return " ".join(t for p in people for t in (p["name_zh"], p["name_en"], *(x[k] for x in p["roles"] for k in ("zh", "en")))) or None


_CHUNK_SQL = [(f'CREATE TABLE "{t}" ({", ".join(chr(34) + c + chr(34) for c in cols)})',
               f'INSERT INTO "{t}" VALUES ({", ".join("?" * len(cols))})') for t, cols in ROWS.items()]


class Chunk(NamedTuple):
    """One chunk of checked records, as a worker hands it to the writer (writer.Writer.add).

    rows is a serialized SQLite database holding the records' rows of each table (ROWS), which the writing process
    copies across without touching a value; everything else is what the writer counts, reports and checks across
    records. Only plain values, so marshal carries a chunk between processes quickly (as a plain tuple).
    """

    n0: int                            # the n of its first record
    count: int                         # records packed
    read: int                          # records read, and of them checked with no fault
    checked: int
    mismatch: bool                     # a record's real id differs from the one the plan guessed
    problems: list                     # (the record's place in the input, message)
    seqs: list                         # each record's place in the input
    ids: list                          # and its id
    former: list                       # (seq, position, former id, id)
    changes: list | None               # (id, digests, former ids), for a release with a previous one
    tally: dict                        # counts by source, kind, theme, area; sums of metrics, quotes, outside facts
    codes: list                        # the region codes the records name
    rows: bytes

    def dumps(self) -> bytes:
        return marshal.dumps(tuple(self))

    @classmethod
    def loads(cls, data: bytes) -> "Chunk":
        return cls(*marshal.loads(data))


class Packer:
    """The rows of every table for checked records, numbered n, n+1, ... in the order they are added: one Chunk."""

    def __init__(self, n0: int, chain: dict[str, list[str]], digests: bool):
        self.n0 = self.n = n0
        self.chain, self.digests = chain, digests
        self.mismatch = False
        self.read = self.checked = 0          # records read, and of them checked with no fault
        self.problems: list[tuple[float, str]] = []
        self.rows: dict[str, list] = {table: [] for table in ROWS}
        self.seqs: list[float] = []
        self.former: list[tuple] = []
        self.changes: list[tuple] = []
        self.by = {"source": Counter(), "kind": Counter(), "theme": Counter(), "area": Counter()}
        self.sums = Counter()
        self.codes: set[str] = set()

    def add(self, seq: float, rec: dict):
        rows = self.rows
        init, regions, area, metrics = rows["initiatives"], rows["initiative_regions"], rows["initiative_area"], rows["metrics"]
        evidence, people, facts, redirects = rows["evidence"], rows["people"], rows["outside_facts"], rows["id_redirects"]
        n, rid, by = self.n, rec["id"], self.by
        year_key = rec["year"] or 0
        self.seqs.append(seq)
        texts = rec["name_zh"], rec["name_en"], rec["summary_zh"], rec["summary_en"], people_text(rec["people"])
        init.append((
            n, rid, rec["evidence"][0]["source"], rec["name_zh"], rec["name_en"], rec["kind"], rec["theme"], rec["scope"],
            rec["year"], year_key, rec["year_basis"], rec.get("date"), rec.get("date_note_zh"), rec.get("date_note_en"),
            rec.get("place_zh"), rec.get("place_en"), rec["summary_zh"], rec["summary_en"], rec.get("note_zh"), rec.get("note_en"),
            _dumps(rec["organisations"]),
            _dumps(rec["people"]), texts[4],
            _JSON_DATES(rec["outside_facts"]) if rec["outside_facts"] else "[]",
            ";".join(rec["regions"]) or None, int(rec["regions_complete"]), ";".join(rec["former_ids"]) or None,
            len(rec["metrics"]), search.pieces(*texts)))   # search_zh, here on a worker's core (search.write_indexes)
        above: dict[str, None] = {}
        for i, code in enumerate(rec["regions"]):
            regions.append((n, i, rid, code))
            self.codes.add(code)
            above.update(dict.fromkeys(self.chain.get(code, ())))   # an unknown code is a fault already reported
        area.extend((code, year_key, n) for code in above)
        by["area"].update(above.keys())
        for i, m in enumerate(rec["metrics"]):
            metrics.append((n, rid, i, m["value"], m["unit"], m["unit_zh"], m["qualifier"], m["measure"], m["year"],
                            m["year_basis"], m["counts_zh"], m["counts_en"], m["figure_text"]))
        for i, e in enumerate(rec["evidence"]):
            evidence.append((n, rid, i, e["source"], e["quote"], e["start"], e["end"]))
        for i, p in enumerate(rec["people"]):
            people.append((n, rid, i, p["name_zh"], p["name_en"], ";".join(x["zh"] for x in p["roles"]),
                           ";".join(x["en"] for x in p["roles"])))
        for i, f in enumerate(rec["outside_facts"]):
            s = f["source"]
            facts.append((n, rid, i, f["fact"], f["value"], f["statement_zh"], f["statement_en"], str(s["title"]),
                          str(s["publisher"]), str(s["published"]), str(s["url"]), str(s["accessed"]), s["relied_on"]))
        for i, old in enumerate(rec["former_ids"]):
            redirects.append((old, n, rid))
            self.former.append((seq, i, old, rid))
        if self.digests:   # only a release with a previous one compares digests
            self.changes.append((rid, release.digests(rec), rec["former_ids"]))
        by["source"][rec["evidence"][0]["source"]] += 1
        by["kind"][rec["kind"]] += 1
        by["theme"][rec["theme"]] += 1
        sums = self.sums
        sums["metrics"] += len(rec["metrics"])
        sums["quotes"] += len(rec["evidence"])
        sums["outside_facts"] += len(rec["outside_facts"])
        self.n = n + 1

    def dumps(self) -> bytes:
        """The Chunk of the records added, marshalled: its rows as a serialized SQLite database (untyped columns: the
        values as they are)."""
        db = sqlite3.connect(":memory:")
        for (create, insert), rows in zip(_CHUNK_SQL, self.rows.values()):
            db.execute(create)
            if rows:
                db.executemany(insert, rows)
        db.commit()
        data = db.serialize()
        db.close()
        tally = {**{key: dict(c) for key, c in self.by.items()}, **self.sums}
        return Chunk(self.n0, self.n - self.n0, self.read, self.checked, self.mismatch, self.problems, self.seqs,
                     [row[1] for row in self.rows["initiatives"]], self.former, self.changes if self.digests else None,
                     tally, sorted(self.codes), data).dumps()


def check_chunk(job) -> bytes:
    """Read, check and pack one chunk of the plan (a worker's job): Packer.dumps() of its records."""
    n0, entries = job
    checker = STATE.checker
    out = Packer(n0, STATE.chain, STATE.digests)
    for entry in entries:
        seq = entry[0]
        got = read_entry(entry)
        if got is None:
            continue
        where, raw, stem = got
        if where is None:
            out.problems.extend((seq, p) for p in raw)
            continue
        out.read += 1
        mine: list[str] = []
        checker.problems = mine
        rec = checker.check(where, raw, stem)
        out.problems.extend((seq, p) for p in mine)
        if rec is None:
            continue
        out.checked += not mine
        if rec["id"] != entry[5]:
            out.mismatch = True
        out.add(seq, rec)
    if STATE.counters is not None:
        with STATE.counters.get_lock():
            STATE.counters[0] += out.read
            STATE.counters[1] += out.checked
    return out.dumps()


# ---------------------------------------------------------------------------------------------------- the pool

class Workers:
    """The worker processes (forked, so they share the reference data), or none: then every job runs here."""

    def __init__(self, count: int):
        self.count = count
        self.pool = multiprocessing.get_context("fork").Pool(count) if count else None

    def map_ordered(self, fn, jobs, window: int | None = None):
        """fn(job) for each job, in order; at most window jobs are queued or running at once."""
        if self.pool is None:
            for job in jobs:
                yield fn(job)
            return
        window = window or self.count * IN_FLIGHT_PER_WORKER
        pending: deque = deque()
        for job in jobs:
            pending.append(self.pool.apply_async(fn, (job,)))
            if len(pending) >= window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def close(self):
        if self.pool is not None:
            self.pool.close()
            self.pool.join()
            self.pool = None

    def terminate(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


def shared_counters(workers: int):
    """(read, checked) counts the workers add to, for the progress line; None without workers."""
    return multiprocessing.get_context("fork").Array("q", 2) if workers else None


def default_workers(files: list[RecordFile]) -> int:
    """One worker per core for a large input; none for a small one, where starting processes costs more."""
    size = 0
    for src in files:
        try:
            size += os.path.getsize(src.path)
        except OSError:
            pass
        if size >= WORKERS_FROM_BYTES:
            return os.cpu_count() or 1
    return 0


# ---------------------------------------------------------------------------------------------------- the plan

def plan(writer, files: list[RecordFile], workers: Workers, problems: list[tuple[float, str]], exact: bool, progress) -> int:
    """The plan table in the stage database: one row per record, (seq, id, file, start, size, line); returns the count."""
    conn = writer.db.conn
    conn.execute("CREATE TABLE stage.plan (seq INTEGER PRIMARY KEY, id TEXT, file INTEGER, start INTEGER, size INTEGER, line INTEGER)")
    if not files:
        problems.append((0, "data/initiatives/: holds no *.yaml or *.jsonl record"))
    seq = 0
    rows: list[tuple] = []
    jsonl = [i for i, f in enumerate(files) if f.jsonl]
    for i, f in enumerate(files):
        if not f.jsonl:
            seq += 1
            rows.append((seq, Path(f.path).stem, i, 0, 0, None))
    scans = workers.map_ordered(scan_jsonl, [files[i].path for i in jsonl], window=max(2, workers.count))
    for done, (i, data) in enumerate(zip(jsonl, scans), start=1):
        starts, sizes, numbers, ids, error = marshal.loads(data)
        first = seq + 1
        rows.extend(zip(range(first, first + len(starts)), ids, [i] * len(starts), starts, sizes, numbers))
        seq += len(starts)
        if error is not None:
            problems.append((seq + 0.5, f"{files[i].rel}: cannot be read as UTF-8 JSON Lines: {error}"))
        if len(rows) >= 100_000:
            conn.executemany("INSERT INTO stage.plan VALUES (?, ?, ?, ?, ?, ?)", rows)
            rows = []
        if progress:
            progress.note = f"{done:,} of {len(jsonl):,} files scanned"
            progress.draw()
    conn.executemany("INSERT INTO stage.plan VALUES (?, ?, ?, ?, ?, ?)", rows)
    if exact:   # the ids the records really have: every record parsed once more, to sort by
        conn.execute("CREATE TABLE stage.real (seq INTEGER PRIMARY KEY, id TEXT)")
        cur = conn.execute("SELECT seq, file, start, size, line, id FROM stage.plan ORDER BY seq")
        for data in workers.map_ordered(real_ids, iter(lambda: cur.fetchmany(CHUNK), [])):
            conn.executemany("INSERT INTO stage.real VALUES (?, ?)", marshal.loads(data))
        conn.execute("UPDATE stage.plan SET id = (SELECT r.id FROM stage.real r WHERE r.seq = plan.seq)")
    conn.execute("CREATE INDEX stage.plan_by_id ON plan (id, seq)")
    return seq


def chunks(conn):
    """The plan in id order, CHUNK entries at a time, each with the n of its first record."""
    cur = conn.execute("SELECT seq, file, start, size, line, id FROM stage.plan ORDER BY id, seq")
    n0 = 1
    while rows := cur.fetchmany(CHUNK):
        yield n0, rows
        n0 += len(rows)
