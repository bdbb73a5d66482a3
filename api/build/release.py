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

from ..dataset.vocabulary import CHANGES
from .files import read_yaml

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


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":")).encode


def _digest(value) -> str:
    return hashlib.sha256(_CANONICAL(value).encode()).hexdigest()[:12]


def manifest(records: list[dict], schema: Schema, version: str, note: str = "") -> dict:
    """A release's manifest: its fields and each record's per-field digests (a few hundred bytes a record)."""
    return {"release": version, "note": note, "fields": field_types(schema),
            "records": {r["id"]: {k: _digest(v) for k, v in sorted(r.items())} for r in sorted(records, key=lambda r: r["id"])}}


@dataclass
class Release:
    """This release: its version, the previous one, what the computed changes amount to, and their reasons."""

    version: str
    published: str
    previous: str | None
    level: str | None = None                  # what the changes amount to; None for a first release
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_retyped: list[str] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANGES, 0))  # changes of each kind
    reasons: dict[str, str] = field(default_factory=dict, repr=False)  # data/release.yaml's, by record id

    def counts(self) -> dict[str, int]:
        return dict(self.counted)


# The field groups a reason names: each changed field's group, by one of its words (any case). A reason that says
# "Summary: ..." for a record whose name changed too is not the whole truth.
FIELD_GROUPS = (
    ("name", ("name_zh", "name_en"), ("name",)),
    ("summary", ("summary_zh", "summary_en"), ("summary",)),
    ("note", ("note_zh", "note_en"), ("note",)),
    ("year", ("year", "year_basis", "date", "date_note_zh", "date_note_en"), ("year", "date")),
    ("place", ("place_zh", "place_en", "regions", "regions_complete"), ("place", "region", "coded")),
    ("quotes", ("evidence",), ("quote",)),
    ("figures", ("metrics",), ("figure",)),
    ("people", ("people",), ("people", "person", "role")),
    ("organisations", ("organisations",), ("organisation",)),
    ("outside facts", ("outside_facts",), ("outside fact", "cited")),
    ("kind", ("kind",), ("kind",)),
    ("theme", ("theme",), ("theme",)),
    ("scope", ("scope",), ("scope", "national", "local")),
    ("former ids", ("former_ids",), ("renamed", "redirect", "former id")),
)


def unnamed_groups(reason: str, fields: list[str]) -> list[tuple[str, list[str]]]:
    """The field groups among fields that reason names by none of their words: (group, its changed fields)."""
    said = reason.casefold()
    out = []
    for group, members, words in FIELD_GROUPS:
        changed = [f for f in fields if f in members]
        if changed and not any(w in said for w in words):
            out.append((group, changed))
    return out


def bump(version: str, level: str) -> str:
    major, minor, patch = (int(p) for p in version.split("."))
    return {"major": f"{major + 1}.0.0", "minor": f"{major}.{minor + 1}.0", "patch": f"{major}.{minor}.{patch + 1}"}[level]


def read_release(root: Path, problems: list[str]) -> Release | None:
    """data/release.yaml: the version, its date, the previous release and the reasons; None when it cannot be read."""
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
    release.reasons = _reasons(doc.get("reasons") or [], problems)
    return release


def digests(record: dict) -> dict[str, str]:
    """A record's per-field digests, as a manifest holds them."""
    return {k: _digest(v) for k, v in record.items()}


class Changes:
    """The changelog of a release, computed one record at a time, so that no release needs its records in memory.

    add() each record in id order (its digests, digests(record), are needed only when there is a previous
    release: needs_digests); then finish(is_current). Each change goes to emit(change, initiative_id,
    previous_id, fields, reason) as soon as it is known; then the problems (a change without a reason, a reason for
    nothing, a version that does not match). old keeps the previous manifest's records (writer.SqlRecords: a table
    of the stage database), filled by put(id, digests) as the manifest is read, with ordered() giving their ids.
    """

    def __init__(self, root: Path, release: Release, schema: Schema, problems: list[str], emit, old):
        self.release, self.problems, self.emit = release, problems, emit
        self.old = old
        self.reasons = release.reasons
        self.renamed_from: set[str] = set()       # old ids some record lists in former_ids
        self.active = True
        self.needs_digests = release.previous is not None
        if release.previous is None:
            return
        path = root / MANIFESTS / f"{release.previous}.json"
        try:
            header = read_manifest(path, self.old.__setitem__)
        except (OSError, ValueError) as exc:
            problems.append(f"{RELEASE_FILE}: previous: the manifest of {release.previous} ({MANIFESTS}/{release.previous}.json) "
                            f"cannot be read: {exc}")
            self.active = False
            return
        types, old_types = field_types(schema), header.get("fields", {})
        release.fields_added = sorted(set(types) - set(old_types))
        release.fields_removed = sorted(set(old_types) - set(types))
        release.fields_retyped = sorted(f for f in set(types) & set(old_types) if types[f] != old_types[f])
        self.defaults = _defaults(schema, set(types) - set(old_types))

    def _change(self, change: str, rid: str, previous_id: str | None, fields: list[str]):
        if self.release.previous is None:
            reason = self.reasons.pop(rid, "first release")
        else:
            if rid not in self.reasons:
                self.problems.append(f"{RELEASE_FILE}: reasons: {rid} was {change} since {self.release.previous} "
                                     f"({', '.join(fields) or 'the whole record'}) and needs a one-line reason")
            reason = self.reasons.pop(rid, "")
            for group, changed in unnamed_groups(reason, fields) if reason else ():
                self.problems.append(f"{RELEASE_FILE}: reasons: {rid}: the reason names no change to its {group} "
                                     f"({', '.join(changed)}), which changed since {self.release.previous}")
        self.release.counted[change] += 1
        self.emit(change, rid, previous_id, fields, reason)

    def add(self, rid: str, now: dict[str, str] | None, former_ids: list[str]):
        if not self.active:
            return
        if self.release.previous is None:
            self._change("added", rid, None, [])
            return
        # Its id in the previous release: its own, or the first of its former ids the previous release had.
        renamed = [o for o in former_ids if o in self.old]
        self.renamed_from.update(renamed)
        previous_id = rid if rid in self.old else (renamed[0] if renamed else None)
        if previous_id is None:
            self._change("added", rid, None, [])
            return
        was = self.old[previous_id]
        changed = sorted(k for k in set(now) | set(was)
                         if k != "id" and now.get(k) != was.get(k) and not (k not in was and now[k] == self.defaults.get(k)))
        change = "renamed" if previous_id != rid else "changed"
        if changed or change == "renamed":
            self._change(change, rid, previous_id, changed)

    def add_all_first(self, count: int, is_current) -> dict[str, str]:
        """For a first release, in place of add() for each record: count records, all added, and the reasons given
        for those of them that have one (by id). The caller writes the changes, each with its reason or
        'first release'; finish() then reports the reasons for no record."""
        self.release.counted["added"] += count
        return {rid: self.reasons.pop(rid) for rid in list(self.reasons) if is_current(rid)}

    def finish(self, is_current):
        """The records of the previous release no record is or redirects from, then the reasons and the version."""
        if not self.active:
            return
        release = self.release
        if release.previous is not None:
            for old in self.old.ordered():
                if not is_current(old) and old not in self.renamed_from:
                    self._change("removed", old, old, [])
        _unused(self.reasons, self.problems)
        if release.previous is None:
            return
        counted = release.counted
        release.level = ("major" if release.fields_removed or release.fields_retyped or counted["removed"]
                         else "minor" if release.fields_added or counted["added"]
                         else "patch" if any(counted.values()) else None)
        expected = bump(release.previous, release.level) if release.level else release.previous
        if release.version != expected:
            why = {"major": "a field removed or retyped, or a record removed with no redirect",
                   "minor": "records or fields added", "patch": "corrections to existing records only",
                   None: "nothing changed"}[release.level]
            self.problems.append(f"{RELEASE_FILE}: version: {release.version}, but the changes since {release.previous} make it "
                                 f"{expected} ({(release.level or 'no change').upper()}: {why})")


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


def _defaults(schema: Schema, new_fields: set[str]) -> dict[str, str]:
    """A field new in this release counts as a change of a record only where its value is not the field's default."""
    out = {}
    for name, fld in schema.fields.items():
        if name in new_fields and fld.load_default is not missing:
            default = fld.load_default() if callable(fld.load_default) else fld.load_default
            out[name] = _digest(default)
    return out


def read_manifest(path: Path, put) -> dict:
    """A manifest's fields and note, with put(id, digests) called for each record as it is read: a manifest of
    a million records is read in constant memory. ValueError when it is not a JSON object."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as fh:
        reader = _JsonReader(fh, decoder)
        header = {}
        reader.expect("{")
        while reader.peek() != "}":
            key = reader.value()
            reader.expect(":")
            if key == "records":
                reader.expect("{")
                while reader.peek() != "}":
                    rid = reader.value()
                    reader.expect(":")
                    put(rid, reader.value())
                    if reader.peek() == ",":
                        reader.expect(",")
                reader.expect("}")
            else:
                header[key] = reader.value()
            if reader.peek() == ",":
                reader.expect(",")
        reader.expect("}")
        if reader.peek() != "":
            raise ValueError(f"{path.name}: extra data after the manifest")
    return header


class _JsonReader:
    """Just enough of an incremental JSON reader for read_manifest: values are decoded one at a time from a buffer."""

    def __init__(self, fh, decoder):
        self.fh, self.decoder, self.buf, self.pos, self.eof = fh, decoder, "", 0, False

    def _more(self) -> bool:
        chunk = "" if self.eof else self.fh.read(1 << 20)
        self.eof = not chunk
        self.buf, self.pos = self.buf[self.pos:] + chunk, 0
        return bool(chunk)

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf) or not self._more():
                return self.buf[self.pos:self.pos + 1]

    def expect(self, char: str):
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at {self.buf[self.pos:self.pos + 20]!r}")
        self.pos += 1

    def value(self):
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:   # a number could go on in the next chunk
                    self.pos = end
                    return value
            except ValueError:
                if self.eof:
                    raise
            self._more()


def release_summary(release) -> dict:
    """The release as the API and the data package state it: version, date, previous, level, fields and counts."""
    return {"version": release.version, "published": release.published, "previous": release.previous,
            "level": release.level, "fields_added": release.fields_added, "fields_removed": release.fields_removed,
            "fields_retyped": release.fields_retyped, "counts": release.counts()}
