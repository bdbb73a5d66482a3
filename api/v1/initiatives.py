"""/api/v1/initiatives: the filtered list (JSON, CSV, GeoJSON) and one record."""
from __future__ import annotations

from ..web import listing, shapes
from ..web.errors import Problem
from ..web.responses import json_response, moved

bp = listing.resource_blueprint(listing.INITIATIVES, "List initiatives.")


@listing.record_route(bp, "/<string:initiative_id>")
def get_initiative(conn, initiative_id):
    """Get one initiative with its regions, metrics and evidence."""
    row, current = shapes.find_initiative(conn, initiative_id)
    if current is not None:
        # A renamed record: its old id keeps resolving, permanently, to the record it became.
        return moved(f"{shapes.API}/initiatives/{current}", {"id": current, "former_id": initiative_id})
    if row is None:
        raise Problem(404, "not-found", f"There is no initiative with id {initiative_id[:shapes.ID_MAX]!r}. "
                      "List them at /api/v1/initiatives.")
    return json_response(shapes.initiative_record(conn, row))
