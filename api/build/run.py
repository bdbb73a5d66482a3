"""The build: data/ into one SQLite database, every fault reported and the previous file untouched on any failure;
and the release manifest of what data/ holds."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import marshal
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

from ..dataset.tables import SCHEMA_VERSION
from .checks import RecordChecker, release_version_problems
from .files import DataError, Dataset, dataset_digest, load_reference, record_files, scan_jsonl
from .pipeline import Workers, check_chunk, chunks, default_workers, plan, prepare, read_entry, shared_counters
from .progress import Progress
from .release import manifest, read_release
from .rules import InitiativeSchema
from .writer import Writer, problem_order, region_chains


def dataset_version(ds: Dataset) -> str:
    """A content hash of everything the database is made from: the input files and the table layout."""
    return hashlib.sha256(f"{SCHEMA_VERSION}:{ds.digest}".encode()).hexdigest()[:16]


def _digest_thread(root: Path, ds: Dataset):
    """The dataset version, computed in a thread while the records are read (hashlib lets go of the GIL)."""
    result: dict = {}

    def run():
        try:
            result["digest"] = dataset_digest(root, ds)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            result["error"] = exc
    thread = threading.Thread(target=run, name="dataset-digest", daemon=True)
    thread.start()

    def value() -> str:
        thread.join()
        if "error" in result:
            raise result["error"]
        ds.digest = result["digest"]
        return dataset_version(ds)
    return value


def build(root: Path, target: Path, progress: Progress | None = None, workers: int | None = None) -> dict:
    """Validate root/data, write the database next to target and rename it into place.

    The records stream from the files (pipeline.py): checked by worker processes, written in id order by
    this one, never all in memory. Raises DataError with every fault when data/ has one; on any
    failure the previous target file is left exactly as it was, and no temporary file is left behind.
    """
    t0 = time.monotonic()
    progress = progress or Progress(False)
    reference: list[str] = []
    ds = load_reference(root, reference)
    ds.release = read_release(root, [])   # read again for each attempt below, with its problems
    files = record_files(root)
    count = default_workers(files) if workers is None else workers
    counters = shared_counters(count)
    checker = RecordChecker(ds, [])
    chains = region_chains(ds.regions)
    prepare(checker, files, chains, ds.release is not None and ds.release.previous is not None,
            counters)
    pool = Workers(count)      # forked now, before this process opens a database or starts a thread
    version = _digest_thread(root, ds)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    stage = tmp_path.with_name(tmp_path.name + ".stage")
    writer = None
    try:
        for exact in (False, True):
            tmp_path.unlink(missing_ok=True)
            stage.unlink(missing_ok=True)
            release_problems = []   # read again: computing a changelog uses up its reasons
            ds.release = read_release(root, release_problems)
            writer = Writer(ds, tmp_path, stage, chains)
            writer.exact = exact
            progress.step("planning")
            plan_problems: list[tuple[float, str]] = []
            progress.total = plan(writer, files, pool, plan_problems, exact, progress)
            progress.note = ""
            writer.start_changes(root, release_problems)
            writer.record_problems.extend(plan_problems)
            progress.step("check and write")
            for data in pool.map_ordered(check_chunk, chunks(writer.db.conn)):
                writer.add(data)
                live = counters is not None   # the workers' counts run ahead of the chunks written
                progress.update(read=counters[0] if live else writer.read, checked=counters[1] if live else writer.checked,
                                written=writer.written)
                if writer.mismatch and not exact:
                    break
            progress.update(read=writer.read, checked=writer.checked, written=writer.written, force=True)
            if writer.mismatch and not exact:   # an id the plan guessed wrong: plan again with the real ones
                writer.close()
                writer = None
                if counters is not None:
                    counters[0] = counters[1] = 0
                continue
            break
        pool.close()
        problems = reference + [text for _, text in sorted(writer.record_problems, key=problem_order)]
        problems += writer.check_records()
        writer.finish_changes()
        problems += release_problems
        problems += release_version_problems(ds)
        if problems:
            raise DataError(problems)
        counts = writer.finish(version(), progress)
        writer.close()
        writer = None
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, target)
    except BaseException:
        pool.terminate()
        raise
    finally:
        if writer is not None:
            writer.close()
        tmp_path.unlink(missing_ok=True)
        stage.unlink(missing_ok=True)
    steps = progress.end()
    own, workers_cpu = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"version": version(), "path": str(target), "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **counts, "seconds": round(time.monotonic() - t0, 1), "workers": count, "steps": steps,
            "cpu_seconds": {"main": round(own.ru_utime + own.ru_stime, 1),
                            "workers": round(workers_cpu.ru_utime + workers_cpu.ru_stime, 1),
                            "main_by_step": progress.steps_cpu}}


def checked_records(root: Path) -> list[dict]:
    """Every record under root/data/initiatives, read and checked one at a time as the build reads and checks them,
    in id order; DataError with every fault a record or the reference files have. The checks across records (an id
    twice, former ids) are the build's: a manifest is written of data/ that builds."""
    problems: list[str] = []
    ds = load_reference(root, problems)
    checker = RecordChecker(ds, problems)
    files = record_files(root)
    prepare(checker, files, region_chains(ds.regions), False)
    records = []
    for i, f in enumerate(files):
        if f.jsonl:
            starts, sizes, numbers, ids, error = marshal.loads(scan_jsonl(f.path))
            if error is not None:
                problems.append(f"{f.rel}: cannot be read as UTF-8 JSON Lines: {error}")
            entries = [(0, i, start, size, line, rid) for start, size, line, rid in zip(starts, sizes, numbers, ids)]
        else:
            entries = [(0, i, 0, 0, None, Path(f.path).stem)]
        for entry in entries:
            got = read_entry(entry)
            if got is None:
                continue
            where, raw, stem = got
            if where is None:
                problems.extend(raw)
            elif (rec := checker.check(where, raw, stem)) is not None:
                records.append(rec)
    if problems:
        raise DataError(problems)
    return sorted(records, key=lambda r: r["id"])


def write_manifest(root: Path, target: Path) -> dict:
    """Write the manifest of the release data/ holds now, for the next release to be compared with."""
    problems: list[str] = []
    release = read_release(root, problems)
    if release is None:
        raise DataError(problems)
    records = checked_records(root)
    doc = manifest(records, InitiativeSchema(), release.version,
                   f"Release {release.version} ({release.published}), {len(records)} records.")
    target.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return doc
