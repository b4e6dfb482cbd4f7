"""The web pages served by the hall server itself (no CDN, no build step): dashboard, phone ticket, booking."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from hall_server.errors import HallError

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
STATIC_DIR = WEB_DIR / "static"
# The managers' pages under /manage (web/manage/<page>.html), listed in web/static/manage-nav.js.
MANAGE_PAGES = ("staff", "roster", "devices", "catalogue", "rules", "calendar")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
HTML = "text/html; charset=utf-8"
# Pages may be cached briefly; the API they call never is.
NO_STORE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["web"], include_in_schema=False)


@router.get("/dashboard")
def dashboard() -> FileResponse:
    """The managers' dashboard."""
    return FileResponse(WEB_DIR / "dashboard.html", media_type=HTML, headers=NO_STORE)


@router.get("/t/{track_token}")
def ticket_page(track_token: str) -> FileResponse:
    """The phone page of one ticket (the ticket's QR code opens it)."""
    return FileResponse(WEB_DIR / "track.html", media_type=HTML, headers=NO_STORE)


@router.get("/book/{hall_id}")
def booking_page(hall_id: str) -> FileResponse:
    """The phone booking page of a hall."""
    return FileResponse(WEB_DIR / "book.html", media_type=HTML, headers=NO_STORE)


@router.get("/manage/{page}")
def manage_page(page: str) -> FileResponse:
    """A managers' page: staff, roster, devices, catalogue, rules, calendar (each loads its own script)."""
    if page not in MANAGE_PAGES:
        raise HallError("request.not_found")
    return FileResponse(WEB_DIR / "manage" / f"{page}.html", media_type=HTML, headers=NO_STORE)


@router.get("/bigscreen")
def bigscreen() -> FileResponse:
    """The big-screen view (驾驶舱) for a wall at 1920×1080, rotating through the halls of the subtree."""
    return FileResponse(WEB_DIR / "bigscreen.html", media_type=HTML, headers=NO_STORE)


@router.get("/guide/{code}")
def guide_page(code: str) -> FileResponse:
    """The public page of a service guide (the printed guide slip's QR code opens it)."""
    return FileResponse(WEB_DIR / "guide.html", media_type=HTML, headers=NO_STORE)


@router.get("/web/static/{name}")
def static(name: str) -> FileResponse:
    """A page asset; only plain file names inside web/static are served."""
    path = (STATIC_DIR / name).resolve()
    if path.parent != STATIC_DIR or not path.is_file() or path.suffix not in TYPES:
        raise HallError("request.not_found")
    return FileResponse(path, media_type=TYPES[path.suffix], headers=NO_STORE)
