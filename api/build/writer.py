"""The database being written: its tables created from the one layout (api/dataset/tables.py), the chunks of checked
records written in id order as they come, the checks across records, the changelog, and everything made from the
rows at the end (counts, list tables, search indexes, descriptors, statistics)."""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import sqlite_utils

from ..dataset.names import lookup_keys
from ..dataset.tables import FOREIGN_KEYS, INTERNAL_KEYS, LAYOUT, ROWS, SCHEMA_VERSION
from . import indexes
from .descriptors import datasette_metadata, served_datapackage
from .files import Dataset
from .pipeline import Chunk
from .release import Changes, release_summary
from .rules import InitiativeSchema

CACHE_KB = 262_144  # SQLite's page cache for the database being written (the stage has 32 MB)


def region_chains(regions: list[dict]) -> dict[str, list[str]]:
    """Each region's code and every division above it, up to its province (a cycle, a fault the build reports, stops it)."""
    parent = {r["code"]: r["parent_code"] for r in regions}
    out = {}
    for code in parent:
        chain = [code]
        while parent.get(chain[-1]) and parent[chain[-1]] not in chain:
            chain.append(parent[chain[-1]])
        out[code] = chain
    return out


class SqlRecords:
    """The previous release's manifest, one row a record in the stage database: what release.Changes compares with."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn, self.pending = conn, []
        conn.execute("CREATE TABLE stage._previous (id TEXT PRIMARY KEY, digests TEXT) WITHOUT ROWID")

    def __setitem__(self, rid: str, digests: dict):
        self.pending.append((rid, json.dumps(digests)))
        if len(self.pending) >= 10_000:
            self._flush()

    def _flush(self):
        self.conn.executemany("INSERT OR REPLACE INTO stage._previous VALUES (?, ?)", self.pending)
        self.pending = []

    def __contains__(self, rid) -> bool:
        self._flush()
        return self.conn.execute("SELECT 1 FROM stage._previous WHERE id = ?", (rid,)).fetchone() is not None

    def __getitem__(self, rid: str) -> dict:
        self._flush()
        row = self.conn.execute("SELECT digests FROM stage._previous WHERE id = ?", (rid,)).fetchone()
        if row is None:
            raise KeyError(rid)
        return json.loads(row[0])

    def ordered(self):
        self._flush()
        return (row[0] for row in self.conn.execute("SELECT id FROM stage._previous ORDER BY id").fetchall())


def problem_order(item):
    """Problems sort by where their record is in the input."""
    return item[0]


class Writer:
    """A new database at path, written as the records come, in id order, a chunk at a time (pipeline.check_chunk's
    Chunks), then finished with everything made from them.

    Only small state is kept per record: the last id (ids come sorted, so a repeated one is the one before),
    the counts. Former ids go to a table of the stage database, a scratch file deleted with the build; the
    release's changelog is computed as the records pass (release.Changes) and written to its table.
    """

    def __init__(self, ds: Dataset, path: Path, stage: Path, chain: dict[str, list[str]]):
        self.ds = ds
        self.db = db = sqlite_utils.Database(sqlite3.connect(path))
        conn = db.conn
        # A private file until it is renamed into place: no journal, no fsync; sorts spill to files, not memory.
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{CACHE_KB}", "temp_store = FILE",
                       "locking_mode = EXCLUSIVE"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("ATTACH DATABASE ? AS stage", (str(stage),))
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -32768", "locking_mode = EXCLUSIVE"):
            conn.execute(f"PRAGMA stage.{pragma}")
        conn.execute("CREATE TABLE stage._former (seq INTEGER, pos INTEGER, old TEXT, id TEXT)")
        self.chain = chain   # region_chains(ds.regions): each region up to its province, computed once a build
        self.next_n = 1      # n: the record's position in id order, the API's internal join key (one version only)
        self.read = self.checked = 0
        self.last_id: str | None = None
        self.mismatch = False
        self.exact = True    # False while the plan's ids are guesses (build()): a wrong one stops the writing
        self.record_problems: list[tuple[float, str]] = []   # (the record's place in the input, message)
        self.unique_problems: list[tuple[float, str]] = []
        self.tally: Counter = Counter()
        self.codes: set[str] = set()
        self.changelog: list[tuple] = []
        self.changes = None
        self._create_tables()

    @property
    def written(self) -> int:
        return self.next_n - 1

    def _create_tables(self):
        db, ds, chain = self.db, self.ds, self.chain
        # Rows whose values are known only at the end (the version, the release, every count) are written as
        # placeholders here and updated in finish(), so every table exists, with its final layout, before the first record.
        db["meta"].insert_all([
            {"key": "version", "value": ""},
            {"key": "release", "value": ""},
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            {"key": "built_from", "value": "data/"},
            {"key": "regions_as_of", "value": max((str(r["as_of"]) for r in ds.regions), default="")},
            {"key": "province_tiles", "value": ds.tiles},  # the map's layout, served as /downloads/province-tiles.json
        ], pk="key")
        db["sources"].insert_all(({**s, "published": str(s["published"]), "initiative_count": 0} for s in ds.sources), pk="id")
        db["kinds"].insert_all(({**k, "ord": i, "initiative_count": 0} for i, k in enumerate(ds.kinds)), pk="id")
        db["themes"].insert_all(({**t, "initiative_count": 0} for t in ds.themes), pk="id",
                                foreign_keys=FOREIGN_KEYS["themes"])
        for name, table in LAYOUT.items():
            sql = db.create_table_sql(name, table.columns, pk=table.pk, not_null=set(table.not_null),
                                      foreign_keys=INTERNAL_KEYS.get(name, []) + FOREIGN_KEYS.get(name, []))
            for column in table.numeric:
                typed = sql.replace(f'"{column}" REAL', f'"{column}" NUMERIC')
                assert typed != sql, sql
                sql = typed
            db.execute(sql)
            for columns in table.unique:
                db[name].create_index(list(columns), unique=True)
            for columns in table.indexes:
                db[name].create_index(list(columns))
        db["regions"].insert_all({
            "code": r["code"], "name_zh": r["name_zh"], "name_en": r["name_en"], "level": r["level"],
            "parent_code": r["parent_code"] or None, "province_code": chain[r["code"]][-1],
            "depth": len(chain[r["code"]]) - 1,
            "lat": r["lat"], "lng": r["lng"],  # numbers or None: parsed and bounded by RegionRowSchema
            "coord_source": r["coord_source"] or None, "as_of": str(r["as_of"]),
            "initiative_count": 0,
        } for r in ds.regions)
        db["region_aliases"].insert_all(({**a} for a in ds.aliases), pk="code", foreign_keys=FOREIGN_KEYS["region_aliases"])
        db["region_names"].insert_all({"key": k, "code": r["code"], "exact": int(exact)}
                                      for r in ds.regions for k, exact in lookup_keys(r).items())
        self.db.conn.execute("ATTACH DATABASE ':memory:' AS chunk")   # each chunk's rows, deserialized (add())
        self.chunks = 0

    def start_changes(self, root: Path, problems: list[str]):
        """The changelog of ds.release, computed as the records pass (None when data/release.yaml cannot be read)."""
        if self.ds.release is not None:
            self.changes = Changes(root, self.ds.release, InitiativeSchema(), problems, self._change, SqlRecords(self.db.conn))

    def _change(self, change: str, rid: str, previous_id: str | None, fields: list[str], reason: str):
        self.changelog.append((self.ds.release.version, len(self.changelog) + self.changelog_written, change, rid,
                               previous_id, ";".join(fields) or None, reason))

    changelog_written = 0

    def _flush_changelog(self):
        if self.changelog:
            self.db.conn.executemany('INSERT INTO "changelog" ("release", "ord", "change", "initiative_id", "previous_id", '
                                     '"fields", "reason") VALUES (?, ?, ?, ?, ?, ?, ?)', self.changelog)
            self.changelog_written += len(self.changelog)
            self.changelog = []

    def add(self, packed: bytes):
        """Write one chunk of records (a Chunk, marshalled): their rows, their problems, their changes.

        The rows come as a small SQLite database, written by the worker; here each table's rows are copied
        across in one INSERT … SELECT, so this process, the one that can write, spends no time per value.
        """
        chunk = Chunk.loads(packed)
        if chunk.mismatch and not self.exact:   # the plan guessed an id wrong: build() plans again, nothing here counts
            self.mismatch = True
            return
        self.chunks += 1
        conn = self.db.conn
        conn.deserialize(chunk.rows, name="chunk")
        delta = self.next_n - chunk.n0   # not 0 when an earlier chunk had lines that are no record (blank, or faults)
        self.record_problems.extend(chunk.problems)
        last, repeated = self.last_id, []
        for k, (seq, rid) in enumerate(zip(chunk.seqs, chunk.ids)):
            if rid == last:   # ids come sorted, and the first of the same id in the input first
                self.unique_problems.append((seq, f"data/initiatives: {rid}: id is not unique"))
                repeated.append(chunk.n0 + k)   # a fault, so the file is not kept; the unique index keeps the first
            last = rid
        self.last_id = last
        for table, cols in ROWS.items():
            names = ", ".join(f'"{c}"' for c in cols)
            picked = ", ".join(f'"{c}" + {delta}' if c in ("n", "initiative_n") and delta else f'"{c}"' for c in cols)
            where = f" WHERE n NOT IN ({', '.join(map(str, repeated))})" if repeated and table == "initiatives" else ""
            verb = "INSERT OR IGNORE" if table == "id_redirects" else "INSERT"   # a former id claimed twice: a fault
            # The chunk's number in the text: a statement prepared for the database deserialized before would
            # read that one (SQLite 3.40 does not expire it).
            conn.execute(f'{verb} INTO main."{table}" ({names}) SELECT {picked} FROM chunk."{table}"{where} '
                         f"ORDER BY rowid -- chunk {self.chunks}")
        if chunk.former:
            conn.executemany("INSERT INTO stage._former VALUES (?, ?, ?, ?)", chunk.former)
        if self.changes is not None and chunk.changes is not None:   # a first release's changelog is written at the end
            add = self.changes.add
            for rid, digests, former_ids in chunk.changes:
                add(rid, digests, former_ids)
            self._flush_changelog()
        for key, counts in chunk.tally.items():
            if isinstance(counts, dict):
                for k, v in counts.items():
                    self.tally[f"{key}:{k}"] += v
            else:
                self.tally[key] += counts
        self.codes.update(chunk.codes)
        self.next_n += chunk.count
        self.read += chunk.read
        self.checked += chunk.checked

    def check_records(self) -> list[str]:
        """The checks across records that need them all: ids unique, each former id no current id and claimed once."""
        conn = self.db.conn
        out = [text for _, text in sorted(self.unique_problems, key=problem_order)]
        conn.execute("CREATE INDEX stage._former_old ON _former (old, seq, pos)")
        for rid, old, current, claimed in conn.execute(
                "SELECT f.id, f.old, EXISTS (SELECT 1 FROM initiatives i WHERE i.id = f.old), "
                "(SELECT g.id FROM stage._former g WHERE g.old = f.old AND (g.seq, g.pos) < (f.seq, f.pos) "
                " ORDER BY g.seq, g.pos LIMIT 1) "
                "FROM stage._former f ORDER BY f.seq, f.pos"):
            if current:
                out.append(f"data/initiatives: {rid}: former_ids: {old} is a current record's id")
            elif claimed is not None:
                out.append(f"data/initiatives: {rid}: former_ids: {old} already redirects to {claimed}")
        return out

    def finish_changes(self):
        """The rest of the changelog: the records removed since the previous release, or for a first release
        every record (one statement rather than a row at a time); then the reasons and the version."""
        if self.changes is None:
            return
        conn = self.db.conn
        def is_current(rid):
            return conn.execute("SELECT 1 FROM initiatives WHERE id = ?", (rid,)).fetchone() is not None
        if not self.changes.needs_digests and self.changes.active:
            reasons = self.changes.add_all_first(self.written, is_current)
            conn.execute('INSERT INTO changelog ("release", "ord", "change", "initiative_id", "previous_id", "fields", '
                         '"reason") SELECT ?, n - 1, \'added\', id, NULL, NULL, \'first release\' FROM initiatives ORDER BY n',
                         (self.ds.release.version,))
            conn.executemany("UPDATE changelog SET reason = ? WHERE initiative_id = ?", [(r, rid) for rid, r in reasons.items()])
        self.changes.finish(is_current)
        self._flush_changelog()

    def finish(self, version: str, progress=None) -> dict:
        """Everything made from the records: counts, indexes, the search indexes, the descriptors, statistics."""
        db, ds, conn, tally = self.db, self.ds, self.db.conn, self.tally
        step = progress.step if progress else (lambda name: None)
        step("counts")
        # Counts are facts of the build: computed once here, never by a request scanning the tables.
        conn.executemany("UPDATE sources SET initiative_count = ? WHERE id = ?", [(tally[f"source:{s['id']}"], s["id"]) for s in ds.sources])
        conn.executemany("UPDATE kinds SET initiative_count = ? WHERE id = ?", [(tally[f"kind:{k['id']}"], k["id"]) for k in ds.kinds])
        conn.executemany("UPDATE themes SET initiative_count = ? WHERE id = ?", [(tally[f"theme:{t['id']}"], t["id"]) for t in ds.themes])
        conn.executemany("UPDATE regions SET initiative_count = ? WHERE code = ?",
                         [(tally[f"area:{r['code']}"], r["code"]) for r in ds.regions if tally[f"area:{r['code']}"]])
        step("list tables")
        indexes.write_list_tables(conn)  # what the list queries are planned on, from the rows and counts above
        step("search index")
        # initiatives_fts (Datasette's too) and initiatives_trigram; initiatives.search_zh came with the rows
        indexes.write_search_indexes(db.conn, pieces_written=True)
        step("descriptors")
        counts = {
            "initiatives": self.written,
            "events": tally["kind:event"],
            "people": conn.execute("SELECT count(DISTINCT name_zh) FROM people").fetchone()[0],
            "metrics": tally["metrics"],
            "quotes": tally["quotes"],
            "outside_facts": tally["outside_facts"],
            "regions_with_initiatives": len(self.codes),
            "regions": len(ds.regions),
            "sources": len(ds.sources),
        }
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (version,))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'release'", (json.dumps(release_summary(ds.release)),))
        # Served at /downloads/: part of the dataset version like everything else, made from the tables just written.
        db["meta"].insert_all([
            {"key": "datapackage", "value": json.dumps(served_datapackage(conn, ds, version), ensure_ascii=False, indent=2)},
            {"key": "datasette_metadata", "value": json.dumps(datasette_metadata(ds), ensure_ascii=False, indent=2)},
        ])
        step("statistics")
        conn.execute("PRAGMA analysis_limit = 1000")  # sampled statistics: enough for the planner, fast at 1M rows
        conn.execute("ANALYZE main")
        conn.commit()
        db["meta"].insert({"key": "counts", "value": json.dumps(counts)})
        conn.commit()
        return counts

    def close(self):
        self.db.conn.close()
