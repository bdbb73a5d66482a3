"""Time the real build of a generated root: wall clock, CPU and peak memory of the build command.

    .venv/bin/python -m bench.scale.profile_build ROOT --db OUT.db [--workers N]

Runs `.venv/bin/python -m api.build --data ROOT --db OUT [--workers N]` (under /usr/bin/time -v when it
exists) and records its seconds, CPU seconds, the largest single process's RSS and the peak RSS of the
build and its worker processes together. Writes OUT.build.json next to the database (bench/scale/run.py
reads it, and --extrapolate takes such files).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.servers import PYTHON
from harness.servers import ROOT as REPO


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
    cmd = [str(PYTHON), "-m", "api.build", "--data", str(root), "--db", str(db), *(extra or [])]
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
    p.add_argument("--mode", choices=["command"], default="command",
                   help="what is timed: the build command (the only mode; the in-process phases went with the "
                        "in-memory loader and writer)")
    p.add_argument("--workers", type=int, help="passed to the build (default: its own choice)")
    a = p.parse_args(argv)
    result = {"root": str(a.root), "initiative_files": sum(1 for _ in os.scandir(a.root / "data" / "initiatives"))}
    result["command"] = run_command(a.root, a.db, None if a.workers is None else ["--workers", str(a.workers)])
    c = result["command"]
    print(f"build command: {c['seconds']} s wall, {c['cpu_seconds']} s CPU, peak RSS {c['max_rss_mb']} MB "
          f"(one process), {c['peak_tree_rss_mb']} MB (all processes), {c['db_bytes'] / 1e6:.1f} MB", flush=True)
    out = a.db.with_name(a.db.name + ".build.json")
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
