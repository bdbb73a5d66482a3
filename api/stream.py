"""The build's record pipeline: every record under data/initiatives read, checked and turned into table rows, in id
order, by worker processes while the main process writes the rows (api/build.py). Nothing holds the records.

1. Plan. Each JSON Lines file is scanned for its lines (byte offset, size, line number) and the id each line
   appears to have (a regex, no parsing); a YAML file is one record whose id must be its name. One row per
   record goes into a table of the stage database, and an index sorts them by id. That is the order in which
   records are numbered (n) and written.
2. Check. The plan is cut into chunks of CHUNK records in id order. A worker reads each record of a chunk
   (pread), parses it, runs api.validate.RecordChecker on it (every check, the same messages) and packs the rows
   of every table for it, numbered from the chunk's first n. The main process takes the chunks back in order
   and writes them (build.Writer), so writing overlaps parsing and checking: both cores work.
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
import re
import sqlite3
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from . import release as release_mod
from . import search
from .validate import RecordChecker, fast_load, read_yaml

CHUNK = 1000                    # records per job sent to a worker
IN_FLIGHT_PER_WORKER = 3        # jobs queued or running per worker: bounds the main process's memory
SCAN_BLOCK = 1 << 24            # bytes of a JSON Lines file read at a time while planning
WORKERS_FROM_BYTES = 8 << 20    # below this much input the main process does it all

_ID = re.compile(rb'"id"\s*:\s*"([^"\\]*)"')
_NOT_ASCII_TEXT = re.compile(rb"[^\x21-\x7e]")


@dataclass(frozen=True)
class Source:
    """One file under data/initiatives: where it is, how a problem names it, and its format."""

    path: str
    rel: str
    jsonl: bool


def sources(root: Path) -> list[Source]:
    """The record files in the order the build reads them: YAML files (one record each), then JSON Lines files."""
    folder = root / "data" / "initiatives"
    yamls, jsonls = sorted(folder.glob("*.yaml")), sorted(folder.glob("*.jsonl"))
    return ([Source(str(p), f"data/initiatives/{p.name}", False) for p in yamls]
            + [Source(str(p), f"data/initiatives/{p.name}", True) for p in jsonls])


def _blank(line: bytes) -> bool:
    """Whether a line holds only whitespace, as str.strip() has it (the bytes are decoded only when it matters)."""
    text = line.strip()
    if not text:
        return True
    if _NOT_ASCII_TEXT.match(text) is None:   # starts with printable ASCII: not blank
        return False
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


def scan_jsonl(path: str) -> bytes:
    """The records of one JSON Lines file: marshal of (starts, sizes, line numbers, guessed ids, error or None).

    Lines end as Python's universal newlines end them (\\n, \\r\\n, \\r), so the line numbers are those of
    reading the file as text; blank lines are not records. A size includes the line's end.
    """
    starts: list[int] = []
    sizes: list[int] = []
    numbers: list[int] = []
    ids: list[str] = []
    error = None
    lineno, pos, rest = 0, 0, b""
    try:
        with open(path, "rb") as fh:
            while True:
                block = fh.read(SCAN_BLOCK)
                data = rest + block
                if block:
                    cut = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1)) + 1
                    if cut == 0:
                        rest = data
                        continue
                    data, rest = data[:cut], data[cut:]
                elif not data:
                    break
                else:
                    rest = b""
                if b"\r" in data:
                    lines = [m.group() for m in re.finditer(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", data)]
                    ends = [0] * len(lines)       # each line holds its end
                else:
                    lines = data.split(b"\n")
                    ends = [1] * (len(lines) - 1) + [0]
                    if not lines[-1]:
                        lines.pop()
                for line, end in zip(lines, ends):
                    lineno += 1
                    # A record starts with "{" (the usual case, decided at once); anything else is looked at closely.
                    if (line[:1] == b"{" or not _blank(line)) and line:
                        at = line.find(b'"id"')
                        found = _ID.match(line, at) if at >= 0 and line.find(b'"id"', at + 4) < 0 else None
                        starts.append(pos)
                        sizes.append(len(line) + end)
                        numbers.append(lineno)
                        ids.append(found.group(1).decode("utf-8", "replace") if found else "")
                    pos += len(line) + end
                if not block:
                    break
    except OSError as exc:
        error = str(exc)
    return marshal.dumps((starts, sizes, numbers, ids, error))


# ---------------------------------------------------------------------------------------------------- workers

class _State:
    """What a worker needs, set in the main process before the workers are forked (so they share it)."""

    checker: RecordChecker | None = None
    files: list[Source] = []
    chain: dict[str, list[str]] = {}
    digests = False
    counters = None            # shared (read, checked) counts, for the progress line
    fds: dict[int, int] = {}


STATE = _State()


def prepare(checker: RecordChecker, files: list[Source], chain: dict[str, list[str]], digests: bool, counters=None):
    STATE.checker, STATE.files, STATE.chain, STATE.digests, STATE.counters = checker, files, chain, digests, counters
    STATE.fds = {}


def _read(entry) -> tuple[str, object, str | None] | tuple[None, list[str], None] | None:
    """(where, raw record, stem) for a plan entry; (None, problems, None) when it cannot be read; None for a blank line."""
    _seq, file_no, start, size, line, _guess = entry
    src = STATE.files[file_no]
    if not src.jsonl:
        problems: list[str] = []
        raw = read_yaml(Path(src.path), problems)
        if raw is None:
            return (None, problems, None) if problems else None   # an empty file is no record, as before
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
        got = _read(entry)
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


# The rows of one record in each table, as Packer packs them (build.Writer copies them across by these names).
ROWS = {
    "initiatives": ("n", "id", "source_id", "name_zh", "name_en", "kind", "theme", "scope", "year", "year_key", "year_basis",
                    "date", "date_note_zh", "date_note_en", "place_zh", "place_en", "summary_zh", "summary_en",
                    "organisations", "people", "people_text", "outside_facts", "region_codes", "regions_complete",
                    "former_ids", "metric_count", search.PIECES_COLUMN),
    "initiative_regions": ("initiative_n", "ord", "initiative_id", "region_code"),
    "initiative_area": ("ancestor_code", "year_key", "initiative_n"),
    "metrics": ("initiative_n", "initiative_id", "ord", "value", "unit", "unit_zh", "qualifier", "measure", "year",
                "year_basis", "counts_zh", "counts_en", "figure_text"),
    "evidence": ("initiative_n", "initiative_id", "ord", "source_id", "quote", "start", "end"),
    "people": ("initiative_n", "initiative_id", "ord", "name_zh", "name_en", "roles_zh", "roles_en"),
    "outside_facts": ("initiative_n", "initiative_id", "ord", "fact", "value", "statement_zh", "statement_en",
                      "source_title", "source_publisher", "source_published", "source_url", "accessed", "relied_on"),
    "id_redirects": ("old_id", "initiative_n", "initiative_id"),
}
# Packer.add hands search.pieces the searched texts in this order.
assert search.SEARCHED_COLUMNS == ("name_zh", "name_en", "summary_zh", "summary_en", "people_text"), search.SEARCHED_COLUMNS
_CHUNK_SQL = [(f'CREATE TABLE "{t}" ({", ".join(chr(34) + c + chr(34) for c in cols)})',
               f'INSERT INTO "{t}" VALUES ({", ".join("?" * len(cols))})') for t, cols in ROWS.items()]


class Packer:
    """The rows of every table for checked records, numbered n, n+1, ... in the order they are added: one chunk.

    dumps() is what build.Writer.add takes. Only plain values (str, int, float, None, lists and tuples), so
    marshal carries them between processes quickly.
    """

    def __init__(self, n0: int, chain: dict[str, list[str]], digests: bool):
        self.n0 = self.n = n0
        self.chain, self.digests = chain, digests
        self.mismatch = False
        self.read = self.checked = 0          # records read, and of them checked with no fault
        self.problems: list[tuple[float, str]] = []
        self.tables: tuple[list, ...] = tuple([] for _ in range(13))
        self.by = {"source": Counter(), "kind": Counter(), "theme": Counter(), "area": Counter()}
        self.sums = Counter()
        self.codes: set[str] = set()

    def add(self, seq: float, rec: dict):
        (seqs, init, regions, area, metrics, evidence, people, facts, redirects, former, changes, _, _) = self.tables
        n, rid, by = self.n, rec["id"], self.by
        year_key = rec["year"] or 0
        seqs.append(seq)
        texts = rec["name_zh"], rec["name_en"], rec["summary_zh"], rec["summary_en"], people_text(rec["people"])
        init.append((
            n, rid, rec["evidence"][0]["source"], rec["name_zh"], rec["name_en"], rec["kind"], rec["theme"], rec["scope"],
            rec["year"], year_key, rec["year_basis"], rec.get("date"), rec.get("date_note_zh"), rec.get("date_note_en"),
            rec.get("place_zh"), rec.get("place_en"), rec["summary_zh"], rec["summary_en"], _dumps(rec["organisations"]),
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
            former.append((seq, i, old, rid))
        if self.digests:   # only a release with a previous one compares digests
            changes.append((rid, release_mod.digests(rec), rec["former_ids"]))
        by["source"][rec["evidence"][0]["source"]] += 1
        by["kind"][rec["kind"]] += 1
        by["theme"][rec["theme"]] += 1
        sums = self.sums
        sums["metrics"] += len(rec["metrics"])
        sums["quotes"] += len(rec["evidence"])
        sums["outside_facts"] += len(rec["outside_facts"])
        self.n = n + 1

    def dumps(self) -> bytes:
        """The chunk for build.Writer.add: marshal of its facts, with its rows as a serialized SQLite database
        (untyped columns: the values as they are), which the writing process copies without touching a value."""
        (seqs, init, regions, area, metrics, evidence, people, facts, redirects, former, changes, _, _) = self.tables
        db = sqlite3.connect(":memory:")
        for (create, insert), rows in zip(_CHUNK_SQL, (init, regions, area, metrics, evidence, people, facts, redirects)):
            db.execute(create)
            if rows:
                db.executemany(insert, rows)
        db.commit()
        data = db.serialize()
        db.close()
        tally = {**{key: dict(c) for key, c in self.by.items()}, **self.sums}
        return marshal.dumps((self.n0, self.n - self.n0, self.read, self.checked, self.mismatch, self.problems, seqs,
                              [row[1] for row in init], former, changes if self.digests else None, tally,
                              sorted(self.codes), data))


def check_chunk(job) -> bytes:
    """Read, check and pack one chunk of the plan (a worker's job): Packer.dumps() of its records."""
    n0, entries = job
    checker = STATE.checker
    out = Packer(n0, STATE.chain, STATE.digests)
    for entry in entries:
        seq = entry[0]
        got = _read(entry)
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


def pack_records(records, chain: dict[str, list[str]], digests: bool, n0: int = 1):
    """Loaded records already in id order (a tool's, in memory), packed CHUNK at a time as check_chunk packs them."""
    out = Packer(n0, chain, digests)
    for seq, rec in enumerate(records, start=1):
        out.read += 1
        out.checked += 1
        out.add(seq, rec)
        if out.n - out.n0 == CHUNK:
            yield out.dumps()
            out = Packer(out.n, chain, digests)
    if out.n > out.n0:
        yield out.dumps()


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


def default_workers(files: list[Source]) -> int:
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


# ---------------------------------------------------------------------------------------------------- progress

def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """The build's progress line on a terminal: records read, checked and written, elapsed and estimated time.

    show is False in CI and pipes (not a TTY, or CI set): then nothing is printed here, only the summary.
    """

    def __init__(self, show: bool, out=None, every: float = 0.25):
        self.show, self.out, self.every = show, out or sys.stderr, every
        self.t0 = time.monotonic()
        self.last = 0.0
        self.step_name, self.step_t0 = "", self.t0
        self.read = self.checked = self.written = 0
        self.total: int | None = None
        self.note = ""
        self.steps: dict[str, float] = {}   # seconds spent in each step, for the report
        self.steps_cpu: dict[str, float] = {}   # and this process's CPU seconds in each
        self.step_cpu0 = time.process_time()

    @staticmethod
    def wanted(stream) -> bool:
        ci = os.environ.get("CI", "").strip().lower()
        return bool(getattr(stream, "isatty", lambda: False)()) and ci in ("", "0", "false", "no")

    def step(self, name: str):
        now, cpu = time.monotonic(), time.process_time()
        if self.step_name:
            self.steps[self.step_name] = round(self.steps.get(self.step_name, 0) + now - self.step_t0, 1)
            self.steps_cpu[self.step_name] = round(self.steps_cpu.get(self.step_name, 0) + cpu - self.step_cpu0, 1)
        self.step_name, self.step_t0, self.step_cpu0 = name, now, cpu
        self.draw(force=True)

    def update(self, read: int | None = None, checked: int | None = None, written: int | None = None, force=False):
        if read is not None:
            self.read = read
        if checked is not None:
            self.checked = checked
        if written is not None:
            self.written = written
        self.draw(force)

    def line(self) -> str:
        now = time.monotonic()
        total = f" of {self.total:,}" if self.total is not None else ""
        parts = [f"read {self.read:,}{total}", f"checked {self.checked:,}"]
        if self.read > self.checked:
            parts.append(f"{self.read - self.checked:,} with faults")
        parts += [f"written {self.written:,}", f"{_clock(now - self.t0)} elapsed"]
        if self.total and self.step_name == "check and write" and self.written:
            rate = self.written / max(now - self.step_t0, 1e-6)
            parts.append(f"about {_clock((self.total - self.written) / rate)} left in this step")
        if self.note:
            parts.append(self.note)
        return f"{self.step_name}: " + " · ".join(parts)

    def draw(self, force=False):
        if not self.show or not self.step_name:
            return
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        self.out.write("\r\x1b[K" + self.line())
        self.out.flush()

    def end(self) -> dict[str, float]:
        """The seconds of each step, the last one closed."""
        self.step("")
        return self.steps

    def elapsed(self) -> str:
        return _clock(time.monotonic() - self.t0)

    def finish(self, summary: str):
        if self.show:
            self.draw(force=True)
            self.out.write("\n" + summary + "\n")
            self.out.flush()
