"""Search (api/dataset/search.py, api/build/indexes.py): q finds exactly the records whose texts contain a term of any length, and the
downloaded database finds Chinese words in Datasette's `_search`, `sqlite-utils search` and plain SQLite."""
from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlite_utils

from api.build import indexes
from api.dataset import search

API = "/api/v1"
SQLITE_UTILS = Path(sys.executable).with_name("sqlite-utils")


# --- the pieces the build writes -----------------------------------------------------------------

def test_a_piece_is_every_substring_of_one_to_four_chinese_characters():
    assert search.pieces("成都驿站") == "成 都 驿 站 成都 都驿 驿站 成都驿 都驿站 成都驿站"


def test_pieces_take_ascii_next_to_chinese_but_never_ascii_alone():
    # 5热 and 45热线 are in the text and have a Chinese character; 1, 12 and 2345 have none.
    assert search.pieces("北京12345热线", "Beijing 12345 hotline") == (
        "北 京 热 线 北京 京1 5热 热线 北京1 京12 45热 5热线 北京12 京123 345热 45热线")


def test_pieces_stop_at_punctuation_and_fold_case():
    assert search.pieces("“中和·蜂巢”") == "中 和 中和 蜂 巢 蜂巢"
    assert search.pieces("A驿") == "驿 a驿"
    assert search.pieces("Zhonghe Beehive", None, "") is None


@pytest.mark.parametrize("term, lookup", [
    ("驿", ("initiatives_fts", 'search_zh : "驿"', True)), ("驿站", ("initiatives_fts", 'search_zh : "驿站"', True)),
    ("快递员", ("initiatives_fts", 'search_zh : "快递员"', True)), ("志愿服务", ("initiatives_fts", 'search_zh : "志愿服务"', True)),
    ("5热线", ("initiatives_fts", 'search_zh : "5热线"', True)), ("A驿", ("initiatives_fts", 'search_zh : "a驿"', True)),
    ("新就业群体", ("initiatives_trigram", '"新就业群体"', True)), ("12345热线", ("initiatives_trigram", '"12345热线"', True)),
    ("hotline", ("initiatives_trigram", '"hotline"', True)), ('"中和', ("initiatives_trigram", '"""中和"', True)),
    ("“中", ("initiatives_fts", 'search_zh : "中"', False)),   # the records with 中, then checked by the scan
    ("ai", (None, None, False)), ("12", (None, None, False)), ("·", (None, None, False)),
])
def test_each_term_goes_to_the_index_that_answers_it(term, lookup):
    look = search.lookup(term)
    assert (look.table, look.match, look.exact) == lookup


def test_the_terms_of_one_index_are_one_match_which_fts5_intersects():
    assert search.plan(["快递", "hotline", "驿站", "ai", "“中", "volunteer"]) == (
        {"initiatives_fts": 'search_zh : "快递" AND search_zh : "驿站" AND search_zh : "中"',
         "initiatives_trigram": '"hotline" AND "volunteer"'},
        ["ai", "“中"])


def test_every_piece_character_is_one_unicode61_token():
    """The design rests on this: SQLite's unicode61 keeps each piece character as a token character, so a piece
    written space-separated is indexed as itself, and the same piece quoted in a query is that one token again."""
    chars = [chr(c) for lo, hi in ((0x3400, 0x4DB5), (0x4E00, 0x9FCC)) for c in range(lo, hi + 1)]
    chars += list("0123456789abcdefghijklmnopqrstuvwxyz")
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    conn.execute("INSERT INTO t(rowid, x) VALUES (1, ?), (2, ?)", (" ".join(chars), "驿站 志愿服务 5热线"))
    assert sorted(row[0] for row in conn.execute("SELECT term FROM v")) == sorted(set(chars) | {"驿站", "志愿服务", "5热线"})
    assert [r[0] for r in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", ('"志愿服务"',))] == [2]


def _tiny(conn: sqlite3.Connection, rows) -> None:
    conn.execute("CREATE TABLE initiatives (n INTEGER PRIMARY KEY, name_zh, name_en, summary_zh, summary_en, people_text)")
    conn.executemany("INSERT INTO initiatives VALUES (?, ?, ?, ?, ?, ?)", rows)


def test_the_indexes_are_the_same_when_the_caller_writes_the_pieces_with_the_rows():
    rows = [(1, "职工驿站", "Workers' station", "为快递员服务", "Serves couriers", None),
            (2, "12345热线", "12345 hotline", "接诉即办", "Answers complaints", "李肖娜 Li Xiaona")]
    by_update, with_rows = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    _tiny(by_update, rows)
    indexes.write_search_indexes(by_update)
    with_rows.execute("CREATE TABLE initiatives (n INTEGER PRIMARY KEY, name_zh, name_en, summary_zh, summary_en, "
                      "people_text, search_zh)")
    with_rows.executemany("INSERT INTO initiatives VALUES (?, ?, ?, ?, ?, ?, ?)", [(*r, search.pieces(*r[1:])) for r in rows])
    indexes.write_search_indexes(with_rows, pieces_written=True)
    for conn in (by_update, with_rows):
        found = {t: [r[0] for r in conn.execute(f"SELECT rowid FROM {search.lookup(t).table} WHERE {search.lookup(t).table} "
                                                "MATCH ? ORDER BY rowid", (search.lookup(t).match,))]
                 for t in ("驿站", "快", "5热线", "李肖娜", "hotline", "Answers")}
        assert found == {"驿站": [1], "快": [1], "5热线": [2], "李肖娜": [2], "hotline": [2], "Answers": [2]}
        assert conn.execute("SELECT k FROM initiatives_fts_config UNION ALL SELECT k FROM initiatives_trigram_config "
                            "ORDER BY 1").fetchall() == [("version",), ("version",)]   # FTS5's defaults: no bulk settings left
    assert by_update.execute("SELECT search_zh FROM initiatives ORDER BY n").fetchall() == \
        with_rows.execute("SELECT search_zh FROM initiatives ORDER BY n").fetchall()


# --- q in the API: exactly the records that contain the term ------------------------------------

def _records(db: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM initiatives ORDER BY n").fetchall()
    conn.close()
    return rows


def _containing(rows, *terms: str) -> list[str]:
    """The brute-force answer: every record one of whose searched texts contains each term, ignoring case."""
    return [r["id"] for r in rows
            if all(any(t.casefold() in (r[c] or "").casefold() for c in search.SEARCHED_COLUMNS) for t in terms)]


def _ids(client, **params) -> tuple[list[str], dict]:
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    body = client.get(f"{API}/initiatives?{query}&limit=200").get_json()
    return [r["id"] for r in body["data"]], body["meta"]


STATIONS = ["chengdu-zhonghe-fengchao-worker-station", "chengdu-zhonghe-summer-childcare-class",
            "liaoning-care-stations-drivers-homes"]
COURIERS = ["chengdu-zhonghe-fengchao-worker-station", "fujian-riders-as-grid-workers",
            "lianyungang-hailian-community-new-employment-services", "npc-jiangsu-delegation-remarks-on-social-work"]
VOLUNTEERING = ["china-volunteer-federation-third-congress", "social-work-volunteer-integration-pilot",
                "volunteer-project-caring-for-health", "volunteer-project-neighbours-looking-out",
                "volunteer-project-warming-the-new", "volunteer-service-coordination-mechanism", "volunteer-service-points"]
NEW_EMPLOYMENT_GROUPS = ["15th-five-year-plan-party-building-new-groups", "lianyungang-hailian-community-new-employment-services",
                         "liaoning-care-stations-drivers-homes", "new-employment-friendly-scenarios",
                         "new-employment-social-security", "new-sectors-party-organisation-coverage",
                         "platform-algorithm-governance", "volunteer-project-caring-for-health",
                         "volunteer-project-neighbours-looking-out", "volunteer-project-warming-the-new",
                         "zhejiang-courier-academy", "zhejiang-courier-care-fund"]
# (term, the records that contain it), by length; the index each goes to is in the test above.
TERMS = [
    ("站", ["chengdu-jinjiang-guoce-secretary-studio", *STATIONS[:2], "gansu-suggestion-platform-gankuaiban", STATIONS[2],
           "volunteer-service-points"]),
    ("驿", STATIONS),
    ("驿站", STATIONS),
    ("快递", COURIERS),
    ("小哥", ["chengdu-zhonghe-fengchao-worker-station", "chengdu-zhonghe-summer-childcare-class",
             "npc-jiangsu-delegation-remarks-on-social-work", "zhejiang-courier-academy", "zhejiang-courier-care-fund"]),
    ("快递员", ["fujian-riders-as-grid-workers", "lianyungang-hailian-community-new-employment-services"]),
    ("李肖娜", ["lianyungang-hailian-community-new-employment-services"]),   # a person's name: people_text
    ("新就业群", NEW_EMPLOYMENT_GROUPS),
    ("志愿服务", VOLUNTEERING),
    ("新就业群体", NEW_EMPLOYMENT_GROUPS),                                      # five characters: the trigram index
    ("社会工作者", ["fujian-professional-social-work-expansion", "social-worker-exam-syllabus-revision",
                "social-worker-qualification-exam-2025"]),
    ("5热线", ["beijing-12345-hotline"]),
    ("HOTLINE", ["beijing-12345-hotline"]),
    ("“中", ["chengdu-zhonghe-fengchao-worker-station", "chengdu-zhonghe-summer-childcare-class"]),  # 中's records, checked
    ("·", ["changchun-leaders-tour-campaign", *STATIONS[:2]]),                                       # a scan
]


@pytest.mark.parametrize("term, expected", TERMS, ids=[t for t, _ in TERMS])
def test_q_finds_exactly_the_records_whose_texts_contain_the_term(client, built_db, term, expected):
    ids, meta = _ids(client, q=term)
    assert ids == expected
    assert ids == _containing(_records(built_db), term)
    assert (meta["total"], meta["total_exact"]) == (len(expected), True)


@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_every_chinese_substring_of_the_names_is_found_exactly(client, built_db, length):
    """Not only chosen words: every 1- to 4-character Chinese substring of every record's name."""
    rows = _records(built_db)
    terms = sorted({r["name_zh"][i:i + length] for r in rows for i in range(len(r["name_zh"]) - length + 1)})
    terms = [t for t in terms if search.is_piece(t)]
    assert len(terms) > 40
    wrong = [t for t in terms if _ids(client, q=t)[0] != _containing(rows, t)]
    assert wrong == []


def test_terms_combine_and_other_filters_apply(client, built_db):
    rows = _records(built_db)
    assert _ids(client, q="快递 驿站")[0] == _containing(rows, "快递", "驿站") == ["chengdu-zhonghe-fengchao-worker-station"]
    assert _ids(client, q="驿站", region="四川")[0] == STATIONS[:2]
    facets = client.get(f"{API}/facets?q={quote('驿站')}").get_json()
    assert (facets["meta"]["total"], facets["data"]["province"][0]["code"]) == (3, "510000")
    metrics = client.get(f"{API}/metrics?q={quote('热线')}").get_json()["data"]
    assert {m["initiative_id"] for m in metrics} == {"beijing-12345-hotline"}


# --- the downloaded database: Datasette, sqlite-utils, plain SQLite --------------------------------

@pytest.fixture()
def downloaded_db(client, tmp_path) -> tuple[Path, dict]:
    """socialwork.db and metadata.json as /downloads/ serves them."""
    resp = client.get("/downloads/socialwork.db")
    assert resp.status_code == 200
    path = tmp_path / "socialwork.db"
    path.write_bytes(resp.get_data())
    resp.close()
    return path, client.get("/downloads/metadata.json").get_json()


WORDS = [("驿站", STATIONS), ("快递", COURIERS), ("志愿服务", VOLUNTEERING)]


def test_sqlite_utils_finds_the_search_table_and_the_words(downloaded_db):
    path, _ = downloaded_db
    db = sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    assert db["initiatives"].detect_fts() == "initiatives_fts"
    for word, expected in WORDS:
        assert sorted(r["id"] for r in db["initiatives"].search(word)) == expected, word
    db.conn.close()


@pytest.mark.parametrize("word, expected", WORDS, ids=[w for w, _ in WORDS])
def test_the_sqlite_utils_command_finds_the_words(downloaded_db, word, expected):
    path, _ = downloaded_db
    done = subprocess.run([str(SQLITE_UTILS), "search", str(path), "initiatives", word, "-c", "id", "--csv", "--no-headers"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert sorted(done.stdout.split()) == expected


def test_plain_sqlite_matches_the_words_with_no_extension(downloaded_db):
    path, _ = downloaded_db
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    sql = ("SELECT id FROM initiatives WHERE rowid IN (SELECT rowid FROM initiatives_fts WHERE initiatives_fts MATCH ?) "
           "ORDER BY id")
    for word, expected in WORDS:
        assert [r[0] for r in conn.execute(sql, (word,))] == expected, word
    assert [r[0] for r in conn.execute(sql, ("hotline",))] == ["beijing-12345-hotline"]   # English: a word
    conn.close()


def test_datasette_search_finds_the_words(downloaded_db):
    from datasette.app import Datasette

    path, metadata = downloaded_db
    ds = Datasette(files=[str(path)], immutables=[], metadata=metadata)

    async def run():
        out = {}
        for word in [w for w, _ in WORDS] + ["新就业群体", "新就业 群体", "hotline", "快递 驿站"]:
            resp = await ds.client.get(f"/socialwork/initiatives.json?_search={quote(word)}&_shape=objects&_col=id&_size=max")
            assert resp.status_code == 200, resp.text
            out[word] = sorted(r["id"] for r in resp.json()["rows"])
        tables = (await ds.client.get("/socialwork.json")).json()["tables"]
        return out, {t["name"]: t["hidden"] for t in tables}

    found, hidden = asyncio.run(run())
    for word, expected in WORDS:
        assert found[word] == expected, word
    # Longer than four characters: no piece is that long, so nothing; the README says to split it (or use the API).
    assert found["新就业群体"] == []
    assert found["新就业 群体"] == _containing(_records(path), "新就业", "群体")
    assert set(found["新就业 群体"]) >= set(NEW_EMPLOYMENT_GROUPS)
    assert found["hotline"] == ["beijing-12345-hotline"]
    assert found["快递 驿站"] == ["chengdu-zhonghe-fengchao-worker-station"]
    assert not hidden["initiatives"]
    assert all(hidden[t] for t in hidden if t.startswith(("initiatives_fts", "initiatives_trigram")))
    assert json.dumps(metadata["databases"]["socialwork"]["tables"]["initiatives"]["columns"]["search_zh"]).startswith(
        '"What full-text search')
