"""/api/v1/metrics: the figures the article reports (not monitoring), one row each, filterable like the initiatives."""
from __future__ import annotations

from ..web import listing

bp = listing.resource_blueprint(listing.METRICS, "List metrics.")
