"""The REST API under /api/v1 (catalog, initiatives, regions, metrics) and its contract (openapi.yaml, Swagger UI)."""
from . import catalog, contract, initiatives, metrics, regions

BLUEPRINTS = (catalog.bp, initiatives.bp, regions.bp, metrics.bp, contract.bp)

__all__ = ["BLUEPRINTS", "catalog", "contract", "initiatives", "metrics", "regions"]
