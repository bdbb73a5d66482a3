"""The REST API under /api/v1 (catalog, initiatives, regions, figures: the metrics resource) and its contract (openapi.yaml, Swagger UI)."""
from . import catalog, contract, figures, initiatives, regions

BLUEPRINTS = (catalog.bp, initiatives.bp, regions.bp, figures.bp, contract.bp)

__all__ = ["BLUEPRINTS", "catalog", "contract", "figures", "initiatives", "regions"]
