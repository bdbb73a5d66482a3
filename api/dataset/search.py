"""Full-text search terms: what a piece is, the two FTS5 indexes' names, and which of them answers a term of `q`.

`q` means the same whatever answers it: the records whose searched texts (SEARCHED_COLUMNS) contain
the term, ignoring case (`str.casefold`). Three ways to find them:

- A *piece*: a term of one to four characters, each a Chinese character (CJK Unified Ideographs, the
  basic block or extension A, as Unicode 6.1 has them) or an ASCII letter or digit, with at least one
  Chinese character: 驿, 驿站, 志愿服务, 5热线. The build writes every distinct piece of a record's texts
  into `initiatives.search_zh`, space-separated, and `initiatives_fts` (FTS5, `unicode61`) indexes that
  column, so a piece is one token: a term is one posting list read in rowid order, exact, at any length
  of list.
- A term of three or more characters that is not a piece (English, longer Chinese, punctuation): the
  trigram index `initiatives_trigram` (contentless: the API only reads its rowids).
- One or two characters that are not a piece but hold a Chinese character (“中): the records with that
  character's piece, each checked by a scan. Anything else (`ai`, `12`): a scan of every record.

`initiatives_fts` is also the table Datasette's `_search` and `sqlite-utils search` use (its content is
the `initiatives` table, so `sqlite_utils.Table.detect_fts` finds it), with stock SQLite. There it also
indexes `name_en`, `summary_en` and `people_text` as words, so an English word matches as a word.

The build writes the pieces and both indexes (api/build/indexes.py); the queries use `plan` and `lookup`
(api/query/).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain
from operator import add

SEARCHED_COLUMNS = ("name_zh", "name_en", "summary_zh", "summary_en", "people_text")  # what q searches

# CJK Unified Ideographs as Unicode 6.1 has them (the basic block and extension A). SQLite's unicode61
# tokenizer takes all of them, and ASCII letters and digits, as token characters, so a piece written
# space-separated is indexed as one token, and a quoted piece in a query is that one token again.
CJK = "\u3400-\u4db5\u4e00-\u9fcc"
PIECE_CHARS = "0-9a-z" + CJK
MAX_PIECE = 4
_RUN = re.compile(f"[{PIECE_CHARS}]+")   # a maximal run of piece characters
_PIECE = re.compile(f"(?=[{PIECE_CHARS}]*[{CJK}])[{PIECE_CHARS}]{{1,{MAX_PIECE}}}")
_LATIN = re.compile("[0-9a-z]")
_CHINESE = re.compile(f"[{CJK}]")

PIECES_COLUMN = "search_zh"
FTS_TABLE = "initiatives_fts"            # Datasette's and sqlite-utils' table; the API's for pieces
TRIGRAM_TABLE = "initiatives_trigram"    # the API's, for longer terms that are not pieces
FTS_COLUMNS = ("name_en", "summary_en", "people_text", PIECES_COLUMN)
FTS_TABLES = (FTS_TABLE, TRIGRAM_TABLE)
PIECES_DOC = ("What full-text search (initiatives_fts: Datasette's search, sqlite-utils search) matches in Chinese: "
              "every distinct piece of one to four characters of the record's names, summaries and people, "
              "made of Chinese characters (with the ASCII letters and digits written next to them), "
              "space-separated, lowercase")


def pieces(*texts: str | None) -> str | None:
    """Every distinct piece of the texts (see the module's doc), space-separated, in order of first occurrence.

    pieces("成都驿站") == "成 都 驿 站 成都 都驿 驿站 成都驿 都驿站 成都驿站"
    """
    grams: list[str] = []
    add_all = grams.extend
    for run in _RUN.findall("\n".join(t for t in texts if t and not t.isascii()).casefold()):  # ASCII has no Chinese
        if run.isascii():
            continue
        two = list(map(add, run, run[1:]))
        three = list(map(add, two, run[2:]))
        four = map(add, three, run[3:])
        if _LATIN.search(run):   # 12345热线: 5热, 45热线 are pieces; 1, 12, 123 are not (no Chinese character)
            add_all(g for g in chain(run, two, three, four) if not g.isascii())
        else:
            add_all(chain(run, two, three, four))
    return " ".join(dict.fromkeys(grams)) or None


def is_piece(term: str) -> bool:
    """Whether initiatives_fts answers this term of q exactly: one to four piece characters, one of them Chinese."""
    return _PIECE.fullmatch(term.casefold()) is not None


@dataclass(frozen=True)
class Lookup:
    """How q finds a term: `match` in the FTS5 table `table` (None: no index), then, unless exact, a scan of those rows."""

    table: str | None
    match: str | None = None
    exact: bool = False


def lookup(term: str) -> Lookup:
    """A piece: its token in initiatives_fts. Three or more characters: a trigram phrase. One or two characters with a
    Chinese one but not a piece ("“中"): the records with that character, scanned. Otherwise (ai, 12): a scan."""
    folded = term.casefold()
    if _PIECE.fullmatch(folded):
        return Lookup(FTS_TABLE, f'{PIECES_COLUMN} : "{folded}"', True)   # piece characters only: nothing to escape
    if len(term) >= 3:
        return Lookup(TRIGRAM_TABLE, '"' + term.replace('"', '""') + '"', True)
    chinese = _CHINESE.search(folded)
    if chinese:
        return Lookup(FTS_TABLE, f'{PIECES_COLUMN} : "{chinese.group()}"', False)
    return Lookup(None)


def plan(terms: list[str], few_rows: bool = False) -> tuple[dict[str, str], list[str]]:
    """What a list of terms (all must occur) needs: for each FTS5 table, one MATCH expression with its terms joined
    by AND, which FTS5 intersects itself (far cheaper than one subquery per term); and the terms to scan for.

    few_rows: another index (a region's) drives and bounds the rows read, so a term of one or two characters is
    checked on those rows instead of listing every record that has it: those lists are the longest (驿站 is in
    129,308 records of 1M; 成都市 has 5,927). Which side is smaller is not known here; this keeps the cost bounded
    by the region."""
    matches: dict[str, list[str]] = {}
    scans = []
    for term in terms:
        look = lookup(term)
        if few_rows and look.table == FTS_TABLE and len(term.casefold()) <= 2:
            scans.append(term)
        elif look.table:
            matches.setdefault(look.table, []).append(look.match)
        if not look.exact:
            scans.append(term)
    return {table: " AND ".join(m) for table, m in matches.items()}, scans
