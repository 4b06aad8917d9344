"""The portal's routes, gathered for ``api.main``."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.portal import buy, card, pages, standin, statements, usage, views
from api.portal.links import portal, router
from creditgate.infra.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
# Each module adds its pages to ``portal`` as it is imported.
PAGES = (buy, card, pages, statements, usage)


def install(app: FastAPI, settings: Settings) -> None:
    """The portal's pages, its scripts, and (while Stripe is localstripe) the Stripe.js
    stand-in; the link-making route goes under ``/v1`` with the API key (``router``)."""
    views.install(app)
    app.include_router(portal)
    app.mount("/portal/static", StaticFiles(directory=STATIC), name="portal_static")
    if settings.uses_localstripe:
        app.include_router(standin.router)


__all__ = ["PAGES", "install", "router"]
