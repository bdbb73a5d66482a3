"""Time the real build of a generated root, as a whole and by phase.

    .venv/bin/python bench/scale/profile_build.py ROOT --db OUT.db [--mode command|phases|both]

command: runs `.venv/bin/flask --app api build --data ROOT --db OUT` and times it (the number that counts).
phases:  runs the same functions in-process (api.validate.load_dataset, api.build.dataset_version,
         api.build.write_database) with timers wrapped around yaml.safe_load, marshmallow Schema.load,
         sqlite-utils insert_all / create_index / enable_fts and every SQL statement, and prints where
         the time goes. Nothing in api/ is changed; the wrappers live in this process only.
Writes OUT.build.json next to the database.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

T = collections.defaultdict(float)
N = collections.Counter()


def timed(key_fn, fn, reentrant_guard=None):
    depth = {"d": 0}

    def wrapper(*a, **kw):
        if depth["d"]:
            return fn(*a, **kw)
        depth["d"] += 1
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            key = key_fn(*a, **kw)
            T[key] += time.perf_counter() - t0
            N[key] += 1
            depth["d"] -= 1
    return wrapper


def classify_sql(sql: str) -> str:
    s = sql.lstrip().upper()
    m = re.match(r"INSERT (?:OR \w+ )?INTO \[?\"?(\w+)", s)
    if m:
        return f"sql insert {m.group(1).lower()}"
    for word in ("CREATE INDEX", "CREATE UNIQUE INDEX", "CREATE VIRTUAL TABLE", "CREATE TABLE", "ANALYZE", "VACUUM"):
        if s.startswith(word):
            return f"sql {word.lower()}"
    return "sql other"


class TimedConnection(sqlite3.Connection):
    def execute(self, sql, *a):
        t0 = time.perf_counter()
        try:
            return super().execute(sql, *a)
        finally:
            k = classify_sql(sql)
            T[k] += time.perf_counter() - t0
            N[k] += 1

    def executescript(self, script):
        t0 = time.perf_counter()
        try:
            return super().executescript(script)
        finally:
            k = "sql script (fts setup, populate, triggers)"
            T[k] += time.perf_counter() - t0
            N[k] += 1


def instrument():
    """Wrap the build's building blocks with timers (this process only); the totals land in T and N."""
    import marshmallow
    import sqlite_utils.db as sdb
    import yaml

    import api.build as build
    import api.validate as validate

    yaml.safe_load = timed(lambda *a, **k: "yaml.safe_load", yaml.safe_load)
    validate.read_yaml = timed(lambda *a, **k: "read + yaml (validate.read_yaml)", validate.read_yaml)
    marshmallow.Schema.load = timed(lambda *a, **k: f"marshmallow {type(a[0]).__name__}.load", marshmallow.Schema.load)
    sdb.Table.insert_all = timed(lambda self, *a, **k: f"sqlite-utils insert_all {self.name}", sdb.Table.insert_all)
    sdb.Table.create_index = timed(lambda self, *a, **k: "sqlite-utils create_index", sdb.Table.create_index)
    sdb.Table.enable_fts = timed(lambda self, *a, **k: "sqlite-utils enable_fts", sdb.Table.enable_fts)
    build.sqlite3 = types.SimpleNamespace(connect=lambda p, **kw: sqlite3.connect(p, factory=TimedConnection, **kw))


def detail() -> dict:
    return {k: {"seconds": round(v, 3), "calls": N[k]} for k, v in sorted(T.items(), key=lambda kv: -kv[1])}


def run_phases(root: Path, db: Path) -> dict:
    import api.build as build
    import api.validate as validate

    instrument()
    out = {}
    cpu = {}
    t0, c0 = time.perf_counter(), time.process_time()
    ds = validate.load_dataset(root)
    out["load_dataset"], cpu["load_dataset"] = time.perf_counter() - t0, time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    version = build.dataset_version(ds)
    out["dataset_version"], cpu["dataset_version"] = time.perf_counter() - t1, time.process_time() - c1
    if db.exists():
        db.unlink()
    t2, c2 = time.perf_counter(), time.process_time()
    counts = build.write_database(ds, db, version, root=root)
    out["write_database"], cpu["write_database"] = time.perf_counter() - t2, time.process_time() - c2
    out["total"], cpu["total"] = time.perf_counter() - t0, time.process_time() - c0
    out["cpu"] = {k: round(v, 1) for k, v in cpu.items()}
    out["counts"] = counts
    out["detail"] = detail()
    return out


def _tree_rss(root_pid: int) -> tuple[int, int]:
    """(sum, largest) resident set of a process and all its descendants, in bytes, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
            fields = stat[stat.rindex(")") + 2:].split()
            pid, ppid, pages = int(entry.name), int(fields[1]), int(fields[21])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(pid)
        rss[pid] = pages * os.sysconf("SC_PAGE_SIZE")
    total = largest = 0
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        largest = max(largest, rss.get(pid, 0))
        todo.extend(children.get(pid, ()))
    return total, largest


class RssSampler(threading.Thread):
    """The peak resident memory of a process tree (the build and its workers), sampled every 0.2 s."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_sum, self.peak_one = pid, every, 0, 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            total, largest = _tree_rss(self.pid)
            self.peak_sum, self.peak_one = max(self.peak_sum, total), max(self.peak_one, largest)
            self.done.wait(self.every)


def run_command(root: Path, db: Path, extra: list[str] | None = None) -> dict:
    cmd = [str(REPO / ".venv" / "bin" / "flask"), "--app", "api", "build", "--data", str(root), "--db", str(db), *(extra or [])]
    timed = Path("/usr/bin/time").exists()
    if timed:   # GNU time's own report as well: its "Maximum resident set size" is the largest single process
        cmd = ["/usr/bin/time", "-v", *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        sys.exit(f"build failed ({proc.returncode}):\n{stderr[-3000:]}")
    report = json.loads(stdout)
    gnu_time = {}
    if timed:
        for line in stderr.splitlines():
            key, _, value = line.strip().partition(": ")
            if key in ("Maximum resident set size (kbytes)", "Elapsed (wall clock) time (h:mm:ss or m:ss)",
                       "User time (seconds)", "System time (seconds)", "Percent of CPU this job got"):
                gnu_time[key] = value
    # CPU seconds too: on a shared machine the wall clock also counts time spent waiting for a core.
    # max_rss_mb is the largest single process (getrusage, as /usr/bin/time -v reports it); peak_tree_rss_mb is
    # the peak of the sum over the build and its worker processes, sampled from /proc every 0.2 s.
    return {"command": " ".join(cmd), "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "max_rss_mb": round(after.ru_maxrss / 1024), "peak_tree_rss_mb": round(sampler.peak_sum / 2**20),
            "gnu_time": gnu_time, "report": report, "db_bytes": db.stat().st_size}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--mode", choices=["command", "phases", "both"], default="both")
    a = p.parse_args(argv)
    result = {"root": str(a.root), "initiative_files": sum(1 for _ in os.scandir(a.root / "data" / "initiatives"))}
    if a.mode in ("command", "both"):
        result["command"] = run_command(a.root, a.db)
        c = result["command"]
        print(f"build command: {c['seconds']} s wall, {c['cpu_seconds']} s CPU, peak RSS {c['max_rss_mb']} MB "
              f"(one process), {c['peak_tree_rss_mb']} MB (all processes), {c['db_bytes'] / 1e6:.1f} MB", flush=True)
    if a.mode in ("phases", "both"):
        phases_db = a.db.with_name(a.db.stem + ".phases.db")
        ph = run_phases(a.root, phases_db)
        phases_db.unlink(missing_ok=True)
        result["phases"] = ph
        print(f"load_dataset {ph['load_dataset']:.1f} s, dataset_version {ph['dataset_version']:.1f} s, "
              f"write_database {ph['write_database']:.1f} s, total {ph['total']:.1f} s (wall); CPU {ph['cpu']}")
        for k, v in ph["detail"].items():
            print(f"  {v['seconds']:9.2f} s  {v['calls']:>9,}  {k}")
    out = a.db.with_name(a.db.name + ".build.json")
    prev = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**prev, **result}, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
