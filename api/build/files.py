"""The files in data/ and seeds/: the reference files read and checked (sources, vocabularies, gazetteer, data
package, tile layout), the record files found and their JSON Lines scanned, and the digest of every input file."""
from __future__ import annotations

import csv
import hashlib
import json
import marshal
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError

from .checks import check_span
from .rules import AliasRowSchema, GlossarySchema, KindSchema, RegionRowSchema, SourceSchema, ThemeSchema, flatten

SCAN_BLOCK = 1 << 24            # bytes of a JSON Lines file read at a time while planning
_ID = re.compile(rb'"id"\s*:\s*"([^"\\]*)"')
_NOT_ASCII_TEXT = re.compile(rb"[^\x21-\x7e]")


class DataError(Exception):
    """The files in data/ do not validate; .problems lists one line per fault."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Dataset:
    """Everything in data/, validated and cross-checked."""

    sources: list[dict]
    seeds: dict[str, str]
    kinds: list[dict]
    themes: list[dict]
    regions: list[dict]
    aliases: list[dict]
    glossary: list[dict] = field(default_factory=list)   # data/glossary.yaml: one English for each Chinese term
    initiatives: list[dict] = field(default_factory=list)
    datapackage: str = ""
    tiles: str = ""   # data/province-tiles.json as it is: the map's layout, served whole
    digest: str = ""  # sha256 of every input file's path and bytes: the basis of the dataset version
    release: object = None  # release.Release: data/release.yaml, its changes computed against the previous release


# libyaml's loader when PyYAML was built with it (ten times faster); the same safe subset of YAML.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, problems: list[str]):
    """The YAML document at path, or None with a fault in problems."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: cannot be read as UTF-8 YAML: {exc}")
        return None


def _load_list(path: Path, schema: Schema, problems: list[str], rel: str) -> list[dict]:
    raw = read_yaml(path, problems)
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{rel}: must be a YAML list")
        return []
    labelled = ((item.get("id", f"#{i}") if isinstance(item, dict) else f"#{i}", item) for i, item in enumerate(raw))
    return _load_each(labelled, schema, problems, rel, "id")


def _load_csv(path: Path, schema: Schema, problems: list[str], rel: str) -> list[dict]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.append(f"{rel}: cannot be read as UTF-8 CSV: {exc}")
        return []
    labelled = ((f"line {i} ({row.get('code')})", row) for i, row in enumerate(rows, start=2))
    return _load_each(labelled, schema, problems, rel, "code")


def _load_each(labelled, schema: Schema, problems: list[str], rel: str, key: str) -> list[dict]:
    """Each (label, item) loaded with schema, every fault a line under its label; then the key checked unique."""
    out = []
    for label, item in labelled:
        try:
            out.append(schema.load(item))
        except ValidationError as err:
            problems.extend(f"{rel}: {label}: {line}" for line in flatten(err.messages))
    _unique(out, key, rel, problems)
    return out


def _unique(items, key, rel, problems):
    seen = set()
    for item in items:
        if item[key] in seen:
            problems.append(f"{rel}: {item[key]}: {key} is not unique")
        seen.add(item[key])

def load_sources(root: Path, problems: list[str]) -> tuple[list[dict], dict[str, str]]:
    """data/sources.yaml, each source's file checked against its sha256: (sources, seed text by source id)."""
    sources = _load_list(root / "data" / "sources.yaml", SourceSchema(), problems, "data/sources.yaml")
    seeds = {}
    for s in sources:
        path = root / s["file"]
        try:
            blob = path.read_bytes()
        except OSError:
            problems.append(f"data/sources.yaml: {s['id']}: file: {s['file']} is missing")
            continue
        if hashlib.sha256(blob).hexdigest() != s["sha256"]:
            problems.append(f"data/sources.yaml: {s['id']}: sha256: {s['file']} does not match its recorded hash")
        seeds[s["id"]] = blob.decode("utf-8")
    return sources, seeds


def load_vocabularies(root: Path, seeds: dict[str, str], problems: list[str]) -> tuple[list[dict], list[dict]]:
    """data/kinds.yaml and data/themes.yaml, each theme's heading checked against its seed: (kinds, themes)."""
    kinds = _load_list(root / "data" / "kinds.yaml", KindSchema(), problems, "data/kinds.yaml")
    themes = _load_list(root / "data" / "themes.yaml", ThemeSchema(), problems, "data/themes.yaml")
    for t in themes:
        check_span("data/themes.yaml", t["id"], "", t["source"], t["name_zh"], t["start"], t["end"], seeds, problems)
    return kinds, themes


def load_glossary(root: Path, problems: list[str]) -> list[dict]:
    """data/glossary.yaml: each Chinese term once, with its English."""
    rel = "data/glossary.yaml"
    raw = read_yaml(root / rel, problems)
    if not isinstance(raw, list):
        if raw is not None:
            problems.append(f"{rel}: must be a YAML list")
        return []
    labelled = ((item.get("zh", f"#{i}") if isinstance(item, dict) else f"#{i}", item) for i, item in enumerate(raw))
    return _load_each(labelled, GlossarySchema(), problems, rel, "zh")


def load_gazetteer(root: Path, problems: list[str]) -> tuple[list[dict], list[dict]]:
    """data/regions.csv and data/region_aliases.csv: (regions, aliases).

    Every parent exists and no region is its own ancestor; every successor is a current code and
    no retired code is current.
    """
    regions = _load_csv(root / "data" / "regions.csv", RegionRowSchema(), problems, "data/regions.csv")
    aliases = _load_csv(root / "data" / "region_aliases.csv", AliasRowSchema(), problems, "data/region_aliases.csv")
    parent = {r["code"]: r["parent_code"] for r in regions}
    for r in regions:
        if r["parent_code"] and r["parent_code"] not in parent:
            problems.append(f"data/regions.csv: {r['code']}: parent_code {r['parent_code']} does not exist")
    for code in parent:
        seen, up = {code}, parent[code]
        while up in parent and up not in seen:   # the chain to the province, as the build walks it
            seen.add(up)
            up = parent[up]
        if up == code:
            problems.append(f"data/regions.csv: {code}: parent_code: {code} is its own ancestor")
    for a in aliases:
        if a["successor_code"] not in parent:
            problems.append(f"data/region_aliases.csv: {a['code']}: successor_code {a['successor_code']} does not exist")
        if a["code"] in parent:
            problems.append(f"data/region_aliases.csv: {a['code']}: is also a current code in regions.csv")
    return regions, aliases


RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")


def load_datapackage(root: Path, problems: list[str]) -> str:
    """data/datapackage.json as text (served as it is): a JSON object with a list of resources, and each
    CSV resource's schema naming the columns of its file's header, in order."""
    try:
        text = (root / "data" / "datapackage.json").read_text(encoding="utf-8")
        resources = json.loads(text).get("resources")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        problems.append(f"data/datapackage.json: cannot be read as a JSON object: {exc}")
        return ""
    if not isinstance(resources, list):
        problems.append("data/datapackage.json: resources: must be a list")
        return text
    created = json.loads(text).get("created")
    if not (isinstance(created, str) and RFC3339.fullmatch(created)):
        # Data Package v2: an RFC 3339 datetime. The served descriptor copies it, so two builds stay identical.
        problems.append(f"data/datapackage.json: created: {created!r} is not an RFC 3339 datetime (e.g. 2026-11-29T00:00:00Z)")
    for res in resources:
        if isinstance(res, dict) and res.get("format") == "csv":
            _check_csv_resource(root, res, problems)
    return text


def _check_csv_resource(root: Path, res: dict, problems: list[str]):
    prefix = f"data/datapackage.json: {res.get('name', '?')}"
    path = res.get("path")
    try:
        names = [f["name"] for f in res["schema"]["fields"]]
    except (KeyError, TypeError):
        problems.append(f"{prefix}: schema.fields: must be a list of objects with a name")
        return
    try:
        with (root / "data" / path).open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error, TypeError):
        problems.append(f"{prefix}: path: {path!r} is not a readable CSV file in data/")
        return
    if names != header:
        problems.append(f"{prefix}: schema.fields: {', '.join(names)} are not the columns of {path} ({', '.join(header)})")


def load_reference(root: Path, problems: list[str]) -> Dataset:
    """Everything in data/ that the records are checked against, checked: a Dataset with no initiatives yet."""
    sources, seeds = load_sources(root, problems)
    kinds, themes = load_vocabularies(root, seeds, problems)
    regions, aliases = load_gazetteer(root, problems)
    return Dataset(sources, seeds, kinds, themes, regions, aliases, glossary=load_glossary(root, problems),
                   datapackage=load_datapackage(root, problems),
                   tiles=load_tiles(root, {r["code"] for r in regions}, problems))


def load_tiles(root: Path, codes: set[str], problems: list[str]) -> str:
    """data/province-tiles.json as text: a licence, and tiles of a provincial-level code at a grid square each."""
    rel = "data/province-tiles.json"
    try:
        text = (root / rel).read_text(encoding="utf-8")
        layout = json.loads(text)
        tiles, licences = layout["tiles"], layout["licenses"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"{rel}: cannot be read as a JSON object with tiles and licenses: {exc}")
        return ""
    if not licences:
        problems.append(f"{rel}: licenses: the layout needs its licence")
    seen: dict = {}
    for i, t in enumerate(tiles):
        if not (isinstance(t, dict) and isinstance(t.get("col"), int) and isinstance(t.get("row"), int)
                and isinstance(t.get("code"), str) and t["code"].endswith("0000")):
            problems.append(f"{rel}: tiles[{i}]: needs a provincial-level code (..0000) and integer col and row")
            continue
        if (t["col"], t["row"]) in seen:
            problems.append(f"{rel}: tiles[{i}]: {t['code']} is on the square of {seen[(t['col'], t['row'])]}")
        seen[(t["col"], t["row"])] = t["code"]
    missing = sorted(c for c in codes if c.endswith("0000") and c not in {t.get("code") for t in tiles if isinstance(t, dict)})
    if missing:
        problems.append(f"{rel}: tiles: no square for {', '.join(missing)}")
    return text

def dataset_digest(root: Path, ds: Dataset) -> str:
    """sha256 of every input file's path and bytes (data/ and the sources' files), in a fixed order.

    Cheap at a million records, and exact: the basis of the dataset version.
    """
    h = hashlib.sha256()
    paths = [root / "data"] + [root / s["file"] for s in ds.sources]
    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()})
    for f in files:
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------- the record files

@dataclass(frozen=True)
class RecordFile:
    """One file under data/initiatives: where it is, how a problem names it, and its format."""

    path: str
    rel: str
    jsonl: bool


def record_files(root: Path) -> list[RecordFile]:
    """The record files in the order the build reads them: YAML files (one record each), then JSON Lines files."""
    folder = root / "data" / "initiatives"
    yamls, jsonls = sorted(folder.glob("*.yaml")), sorted(folder.glob("*.jsonl"))
    return ([RecordFile(str(p), f"data/initiatives/{p.name}", False) for p in yamls]
            + [RecordFile(str(p), f"data/initiatives/{p.name}", True) for p in jsonls])


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
