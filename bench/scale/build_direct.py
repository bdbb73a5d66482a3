"""Build the database of a generated root without reading its YAML: same tables, same version, minutes instead of an hour.

    .venv/bin/python bench/scale/build_direct.py ROOT --db OUT.db

The records come from generate.record() (the generator is deterministic, so they are the ones the YAML
files hold); the vocabularies, gazetteer and sources are read and validated by api.validate.load_reference
as usual, and the version is api.validate.dataset_digest of the root's files, as in the build; the database
is written by api.build.dataset_version + api.build.write_database (the build's Writer, fed from memory
instead of from the checking workers). So the file is what `flask --app api build --data ROOT` writes
(check: the same `version`), minus the cost of parsing and validating the records, which profile_build.py
measures separately. The real build of a JSON Lines root is now as fast (docs/PERFORMANCE.md, "Build");
this stays for YAML roots, whose parsing is the slow part.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402


def with_defaults(rec: dict) -> dict:
    """The fields the generator leaves out, as InitiativeSchema.load fills them in (their load_default)."""
    for key, default in (("regions_complete", True), ("people", list), ("outside_facts", list), ("former_ids", list)):
        if key not in rec:
            rec[key] = default() if callable(default) else default
    return rec


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path)
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--profile", action="store_true", help="time each step of write_database (see profile_build.py)")
    a = p.parse_args(argv)
    if a.profile:
        import profile_build
        profile_build.instrument()

    from api import build, validate
    from api.release import load_release

    spec = json.loads((a.root / "scale.json").read_text())
    problems: list[str] = []
    ds = validate.load_reference(a.root, problems)   # sources, seeds, vocabularies, gazetteer, data package
    if problems:
        sys.exit("\n".join(problems))
    t0 = time.perf_counter()
    ctx = generate.Context(spec["seed"])
    ds.initiatives = [with_defaults(generate.record(ctx, i)) for i in range(spec["count"])]
    # data/release.yaml and its changelog, as load_dataset computes them once the records are in
    ds.release = load_release(a.root, ds.initiatives, validate.InitiativeSchema(), problems, validate.read_yaml)
    if problems:
        sys.exit("\n".join(problems))
    t_gen = time.perf_counter() - t0
    ds.digest = validate.dataset_digest(a.root, ds)   # the files the records were written to: the real build's version
    version = build.dataset_version(ds)
    t_ver = time.perf_counter() - t0 - t_gen
    tmp = a.db.with_name(a.db.name + ".tmp")
    tmp.unlink(missing_ok=True)
    counts = build.write_database(ds, tmp, version, root=a.root)   # the changelog of the root's data/release.yaml
    os.replace(tmp, a.db)
    t_total = time.perf_counter() - t0
    report = {"version": version, "path": str(a.db), **counts, "db_bytes": a.db.stat().st_size,
              "seconds": {"records_in_memory": round(t_gen, 1), "dataset_version": round(t_ver, 1),
                          "write_database": round(t_total - t_gen - t_ver, 1), "total": round(t_total, 1)}}
    if a.profile:
        report["write_detail"] = profile_build.detail()
        for k, v in report["write_detail"].items():
            print(f"  {v['seconds']:9.2f} s  {v['calls']:>9,}  {k}", file=sys.stderr)
    out = a.db.with_name(a.db.name + ".build.json")
    prev = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**prev, "direct": report}, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
