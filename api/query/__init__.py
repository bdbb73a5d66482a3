"""Every SQL statement the API runs, without Flask: fragments with bound parameters (fragments), keyset pages
(keyset), the lists and their plans on the build's list tables (lists, plans, search_plans), and lookups by key
(lookups). The web app imports this package only; values are always bound, identifiers come from whitelists."""
from .fragments import Cond, Filter
from .keyset import COUNT_CAP, INITIATIVE_SORTS, METRIC_SORTS, REGION_SORTS, Page, key_length, walk
from .lists import RegionFilter, facets, list_initiatives, list_metrics, list_regions, planned_page, scope_counts
from .lookups import (
                      changelog,
                      changelog_size,
                      counts,
                      evidence_in_source,
                      evidence_of,
                      initiative_by_id,
                      initiative_ids,
                      kinds,
                      last_initiative_n,
                      loads_json,
                      meta,
                      metrics_of,
                      provinces,
                      redirected_id,
                      region,
                      region_alias,
                      region_chain,
                      region_children,
                      region_name_index,
                      region_or_successor,
                      region_suggestions,
                      regions_by_codes,
                      regions_by_key,
                      regions_of,
                      release,
                      sources,
                      table_rows,
                      themes,
                      vocabulary,
)

__all__ = [
    "Cond", "Filter", "COUNT_CAP", "INITIATIVE_SORTS", "METRIC_SORTS", "REGION_SORTS", "Page", "key_length", "walk",
    "RegionFilter", "facets", "list_initiatives", "list_metrics", "list_regions", "planned_page", "scope_counts",
    "changelog", "changelog_size", "counts", "evidence_in_source", "evidence_of", "initiative_by_id", "initiative_ids",
    "kinds", "last_initiative_n", "loads_json", "meta", "metrics_of", "provinces", "redirected_id", "region",
    "region_alias", "region_chain", "region_children", "region_name_index", "region_or_successor", "region_suggestions",
    "regions_by_codes", "regions_by_key", "regions_of", "release", "sources", "table_rows", "themes", "vocabulary",
]
