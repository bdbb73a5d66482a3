"""A source document as published: its text (checked against the sha256 the dataset records), its paragraphs and
sentences, and quoted spans marked in them. Pure text: the pages (api/site) and the MCP server (api/agents) read it.

Offsets are the dataset's own: [start, end) in Unicode code points, which is what a Python str index is.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .about import ROOT


class SourceUnavailable(Exception):
    """The source's file is missing, unreadable, or its bytes no longer hash to the sha256 the dataset records: no text
    the offsets were not made against is ever served. Its message is what a client reads."""


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of the document and its [start, end): its number as the article has it (1-based, the body's
    paragraphs only), or None for a line that is no paragraph of the body (title, byline, heading, dateline)."""

    number: int | None
    start: int
    end: int
    text: str

    @property
    def anchor(self) -> str:
        """The id of its element on the source page: p<number>, or at<start> for an unnumbered line."""
        return f"p{self.number}" if self.number is not None else f"at{self.start}"


@dataclass(frozen=True)
class Span:
    """A quoted range and what quotes it (anything the template links to: a record id and the quote's position)."""

    start: int
    end: int
    ref: object


@dataclass(frozen=True)
class Segment:
    """A run of a paragraph's text and the spans that cover all of it (none: text no record quotes)."""

    start: int
    text: str
    refs: tuple


@functools.lru_cache(maxsize=8)
def _read(path: Path, sha256: str, mtime_ns: int) -> tuple[str, tuple[Paragraph, ...]] | None:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    text = data.decode("utf-8")
    return text, paragraphs_of(text)


# How a paragraph of the body ends: a full stop, question or exclamation mark, semicolon (the article's list
# paragraphs, 浙江建设……急需处；) or ellipsis, and the closing quotes and brackets after it.
_PARAGRAPH_END = re.compile(r"(?:[。！？!?；;]|……)[”’」』）)]*$")


def _open(line: str) -> bool:
    """A line that stops inside a sentence its paragraph goes on with: it does not end a sentence, and a sentence has
    begun in it (a full stop earlier in the line, or a quotation still open). A title, byline or heading has neither."""
    return not _PARAGRAPH_END.search(line) and ("。" in line or line.count("“") > line.count("”"))


def paragraphs_of(text: str) -> tuple[Paragraph, ...]:
    """The paragraphs as the article has them. Our copy of it breaks two paragraphs mid-sentence (……不断增强，我 / 们干事
    创业……, 自治、法 / 治、德治……): a line that stops inside a sentence is one paragraph with the next. Only the body's
    paragraphs (those that end a sentence) are numbered."""
    lines, at = [], 0
    for line in text.split("\n"):
        if line.strip():
            lines.append((at, at + len(line)))
        at += len(line) + 1
    paragraphs, number, i = [], 0, 0
    while i < len(lines):
        start, end = lines[i]
        while _open(text[lines[i][0]:lines[i][1]]) and i + 1 < len(lines):
            i += 1
            end = lines[i][1]
        i += 1
        body = bool(_PARAGRAPH_END.search(text[start:end]))
        number += body
        paragraphs.append(Paragraph(number if body else None, start, end, text[start:end]))
    return tuple(paragraphs)


def load(source) -> tuple[str, tuple[Paragraph, ...]]:
    """The text and paragraphs of a source row (query.sources): the file the build checked, if its bytes still hash to
    the sha256 the dataset records; otherwise SourceUnavailable."""
    path = ROOT / source["file"]
    try:
        found = _read(path, source["sha256"], path.stat().st_mtime_ns)
    except (OSError, UnicodeDecodeError):
        found = None
    if found is None:
        raise SourceUnavailable(f"The text of source {source['id']!r} is not available as the dataset recorded it.")
    return found


def containing(paragraphs, start: int, end: int) -> list[Paragraph]:
    """The paragraphs a span [start, end) touches, in order."""
    return [p for p in paragraphs if p.start < end and start < p.end]


def segments(paragraph: Paragraph, spans: list[Span]) -> list[Segment]:
    """Cut a paragraph at every span boundary inside it: each piece with the spans covering it, in the spans' order."""
    inside = [s for s in spans if s.start < paragraph.end and paragraph.start < s.end]
    cuts = sorted({paragraph.start, paragraph.end, *(max(s.start, paragraph.start) for s in inside),
                   *(min(s.end, paragraph.end) for s in inside)})
    out = []
    for lo, hi in zip(cuts, cuts[1:]):
        refs = tuple(s.ref for s in inside if s.start <= lo and hi <= s.end)
        out.append(Segment(lo, paragraph.text[lo - paragraph.start:hi - paragraph.start], refs))
    return out


# A sentence ends after 。！？ (or their ASCII forms, or ……) and the closing quotes and brackets that follow them:
# “……填补好这个空白。” is one sentence, its closing quote included. A semicolon joins clauses of one sentence.
_SENTENCE_END = re.compile(r"(?:[。！？!?]+|……)[”’」』）)]*")


@dataclass(frozen=True)
class Sentence:
    """The sentence (or sentences) around a span: [start, end) in the document and its text."""

    start: int
    end: int
    text: str


def sentence(text: str, paragraphs, start: int, end: int) -> Sentence:
    """The whole sentences of the document that the span [start, end) touches: from the start of the sentence it
    begins in to the end of the one it ends in, within its paragraphs (a paragraph's end ends a sentence too)."""
    touched = containing(paragraphs, start, end) or containing(paragraphs, start, start + 1)
    if not touched:
        return Sentence(start, end, text[start:end])
    first, last = touched[0], touched[-1]
    lo = first.start
    for m in _SENTENCE_END.finditer(first.text):
        if first.start + m.end() <= start:
            lo = first.start + m.end()
        else:
            break
    hi = last.end
    for m in _SENTENCE_END.finditer(last.text):
        if last.start + m.end() >= end:
            hi = last.start + m.end()
            break
    return Sentence(lo, hi, text[lo:hi])
