"""/api/v1/metrics: every figure as a row, filterable like the initiatives."""
from __future__ import annotations

from flask import Blueprint

from ..web import listing

bp = Blueprint("metrics", __name__, url_prefix="/api/v1/metrics")


listing.add_route(bp, listing.METRICS, "List metrics.")
