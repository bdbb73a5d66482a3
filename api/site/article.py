"""The source's paragraphs and quoted spans for the pages: the text logic is api/dataset/article.py's (the MCP server
reads the same); a source whose text is not as the dataset recorded it is a 503 here, an error page."""
from __future__ import annotations

from ..dataset.article import Paragraph, Segment, SourceUnavailable, Span, containing, segments
from ..dataset.article import load as load_text
from ..web.errors import Problem

__all__ = ["Paragraph", "Segment", "Span", "containing", "segments", "load"]


def load(source) -> tuple[str, tuple[Paragraph, ...]]:
    """The text and paragraphs of a source row (query.sources), or a 503, never text the offsets were not made against."""
    try:
        return load_text(source)
    except SourceUnavailable as exc:
        raise Problem(503, "service-unavailable", str(exc), headers={"Retry-After": "30"}) from None
