"""The project's wiring (settings, urls, ASGI routing, Celery) and the portal's UI shell."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
