"""The dataset's semantic release and its computed changelog.

data/release.yaml names this release (MAJOR.MINOR.PATCH, Frictionless' recipe), the previous one and a
one-line reason for each record that changed. data/releases/<version>.json is a release's manifest: the
record fields with their types and, for each record, a short digest of each field's value. The build
compares the records with the previous manifest, lists every record added, changed (which fields),
renamed (its old id redirects) or removed, and refuses a version that does not match what changed:

- MAJOR: a field removed or retyped, or a record removed with no redirect;
- MINOR: a field or a record added;
- PATCH: corrections to existing records only (a renamed id keeps resolving, so it is a correction).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import Schema, fields, missing

from .vocabulary import CHANGES

RELEASE_FILE = "data/release.yaml"
MANIFESTS = "data/releases"
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
LEVELS = ("patch", "minor", "major")


def field_types(schema: Schema, prefix: str = "") -> dict[str, str]:
    """Every field of a record, nested ones as metrics[].value, with the name of its type."""
    out = {}
    for name, fld in schema.fields.items():
        inner = fld.inner if isinstance(fld, fields.List) else fld
        out[prefix + name] = f"array of {_type(inner)}" if inner is not fld else _type(fld)
        if isinstance(inner, fields.Nested):
            out.update(field_types(inner.schema, f"{prefix}{name}{'[]' if inner is not fld else ''}."))
    return out


_TYPES = ((fields.Date, "date"), (fields.String, "string"), (fields.Integer, "integer"), (fields.Number, "number"),
          (fields.Boolean, "boolean"), (fields.Nested, "object"))


def _type(fld) -> str:
    """The data type a field holds, as Table Schema names it (not the marshmallow class that checks it)."""
    return next((name for cls, name in _TYPES if isinstance(fld, cls)), "any")


def _digest(value) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def manifest(records: list[dict], schema: Schema, version: str, note: str = "") -> dict:
    """A release's manifest: its fields and each record's per-field digests (a few hundred bytes a record)."""
    return {"release": version, "note": note, "fields": field_types(schema),
            "records": {r["id"]: {k: _digest(v) for k, v in sorted(r.items())} for r in sorted(records, key=lambda r: r["id"])}}


@dataclass
class Release:
    """This release: its version, the previous one, and the computed changes with their reasons."""

    version: str
    published: str
    previous: str | None
    level: str | None = None                  # what the changes amount to; None for a first release
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_retyped: list[str] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)  # {change, initiative_id, previous_id, fields, reason}

    def counts(self) -> dict[str, int]:
        return {c: sum(1 for e in self.changes if e["change"] == c) for c in CHANGES}


def bump(version: str, level: str) -> str:
    major, minor, patch = (int(p) for p in version.split("."))
    return {"major": f"{major + 1}.0.0", "minor": f"{major}.{minor + 1}.0", "patch": f"{major}.{minor}.{patch + 1}"}[level]


def load_release(root: Path, records: list[dict], schema: Schema, problems: list[str], read_yaml) -> Release | None:
    """data/release.yaml checked against the records and the previous manifest; None when it cannot be read."""
    doc = read_yaml(root / RELEASE_FILE, problems)
    if doc is None:
        return None
    if not isinstance(doc, dict) or not SEMVER.fullmatch(str(doc.get("version", ""))):
        problems.append(f"{RELEASE_FILE}: version: must be a semantic version MAJOR.MINOR.PATCH (e.g. 1.1.0)")
        return None
    previous = doc.get("previous")
    release = Release(str(doc["version"]), str(doc.get("published", "")), str(previous) if previous else None)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", release.published):
        problems.append(f"{RELEASE_FILE}: published: must be a date YYYY-MM-DD")
    reasons = _reasons(doc.get("reasons") or [], problems)
    if release.previous is None:
        release.changes = [{"change": "added", "initiative_id": r["id"], "previous_id": None, "fields": [],
                            "reason": reasons.pop(r["id"], "first release")} for r in sorted(records, key=lambda r: r["id"])]
        _unused(reasons, problems)
        return release
    path = root / MANIFESTS / f"{release.previous}.json"
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{RELEASE_FILE}: previous: the manifest of {release.previous} ({MANIFESTS}/{release.previous}.json) "
                        f"cannot be read: {exc}")
        return release
    _diff(release, before, records, schema, reasons, problems)
    return release


def _reasons(entries, problems) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, entry in enumerate(entries):
        ids, reason = (entry.get("ids"), entry.get("reason")) if isinstance(entry, dict) else (None, None)
        if not isinstance(ids, list) or not ids or not isinstance(reason, str) or not reason.strip():
            problems.append(f"{RELEASE_FILE}: reasons[{i}]: needs ids (a list of record ids) and a one-line reason")
            continue
        for rid in ids:
            if rid in out:
                problems.append(f"{RELEASE_FILE}: reasons[{i}]: {rid} already has a reason")
            out[rid] = reason.strip()
    return out


def _unused(reasons: dict[str, str], problems: list[str]):
    for rid in reasons:
        problems.append(f"{RELEASE_FILE}: reasons: {rid} did not change in this release (or is not a record id)")


def _diff(release: Release, before: dict, records: list[dict], schema: Schema, reasons: dict[str, str], problems):
    types = field_types(schema)
    old_types, old_records = before.get("fields", {}), before.get("records", {})
    release.fields_added = sorted(set(types) - set(old_types))
    release.fields_removed = sorted(set(old_types) - set(types))
    release.fields_retyped = sorted(f for f in set(types) & set(old_types) if types[f] != old_types[f])
    defaults = _defaults(schema, set(types) - set(old_types))
    renamed_from = {old: r["id"] for r in records for old in r.get("former_ids", []) if old in old_records}
    changes = []
    for r in sorted(records, key=lambda r: r["id"]):
        previous_id = r["id"] if r["id"] in old_records else next((o for o, n in renamed_from.items() if n == r["id"]), None)
        now = {k: _digest(v) for k, v in r.items()}
        if previous_id is None:
            changes.append({"change": "added", "initiative_id": r["id"], "previous_id": None, "fields": []})
            continue
        was = old_records[previous_id]
        changed = sorted(k for k in set(now) | set(was)
                         if k != "id" and now.get(k) != was.get(k) and not (k not in was and now[k] == defaults.get(k)))
        change = "renamed" if previous_id != r["id"] else "changed"
        if changed or change == "renamed":
            changes.append({"change": change, "initiative_id": r["id"], "previous_id": previous_id, "fields": changed})
    current = {r["id"] for r in records}
    for old in sorted(set(old_records) - current - set(renamed_from)):
        changes.append({"change": "removed", "initiative_id": old, "previous_id": old, "fields": []})
    for c in changes:
        key = c["initiative_id"]
        if key not in reasons:
            problems.append(f"{RELEASE_FILE}: reasons: {key} was {c['change']} since {release.previous} "
                            f"({', '.join(c['fields']) or 'the whole record'}) and needs a one-line reason")
        c["reason"] = reasons.pop(key, "")
    _unused(reasons, problems)
    release.changes = changes
    kinds = {c["change"] for c in changes}
    release.level = ("major" if release.fields_removed or release.fields_retyped or "removed" in kinds
                     else "minor" if release.fields_added or "added" in kinds
                     else "patch" if changes else None)
    expected = bump(release.previous, release.level) if release.level else release.previous
    if release.version != expected:
        why = {"major": "a field removed or retyped, or a record removed with no redirect",
               "minor": "records or fields added", "patch": "corrections to existing records only",
               None: "nothing changed"}[release.level]
        problems.append(f"{RELEASE_FILE}: version: {release.version}, but the changes since {release.previous} make it "
                        f"{expected} ({(release.level or 'no change').upper()}: {why})")


def _defaults(schema: Schema, new_fields: set[str]) -> dict[str, str]:
    """A field new in this release counts as a change of a record only where its value is not the field's default."""
    out = {}
    for name, fld in schema.fields.items():
        if name in new_fields and fld.load_default is not missing:
            default = fld.load_default() if callable(fld.load_default) else fld.load_default
            out[name] = _digest(default)
    return out


def write_manifest(root: Path, target: Path) -> dict:
    """Write the manifest of the release data/ holds now, for the next release to be compared with."""
    from .validate import InitiativeSchema, load_dataset

    ds = load_dataset(root)
    doc = manifest(ds.initiatives, InitiativeSchema(), ds.release.version,
                   f"Release {ds.release.version} ({ds.release.published}), {len(ds.initiatives)} records.")
    target.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return doc


if __name__ == "__main__":  # .venv/bin/python -m api.release data/releases/<version>.json
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m api.release data/releases/<version>.json")
    out = write_manifest(Path.cwd(), Path(sys.argv[1]))
    print(f"{sys.argv[1]}: release {out['release']}, {len(out['records'])} records")
