"""Statistics and indicators of a hall subtree for a period, with CSV and Excel exports (managers)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from hall_server.api import ext_common
from hall_server.api.deps import Creds, get_ctx, principal_of
from hall_server.api.schemas import DbInt, ErrorOut
from hall_server.services import stats as svc
from hall_server.services.stats_export import to_csv, to_xlsx

logger = logging.getLogger(__name__)

router = APIRouter(tags=["statistics"], responses={403: {"model": ErrorOut}, 422: {"model": ErrorOut}})

FromDay = Annotated[date | None, Query(alias="from", description="first business day (default today)")]
ToDay = Annotated[date | None, Query(alias="to", description="last business day, inclusive")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _scope(
    request: Request,
    creds: Any,
    hall_id: str,
    day_from: date | None,
    day_to: date | None,
    subtree: bool,
    window_id: DbInt | None = None,
    clerk_id: DbInt | None = None,
    service_code: str | None = None,
) -> tuple[Any, svc.Scope]:
    ctx = get_ctx(request)
    halls = ext_common.manager_scope(ctx, principal_of(ctx, creds), hall_id, include_subtree=subtree)
    today = ext_common.utcnow().astimezone(ctx.catalog.hall(hall_id).zone).date()
    scope = svc.make_scope(
        halls, day_from, day_to, today, window_id=window_id, clerk_id=clerk_id, service_code=service_code
    )
    return ctx, scope


@router.get("/halls/{hall_id}/stats")
def summary(
    hall_id: str,
    request: Request,
    creds: Creds,
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
    window_id: DbInt | None = None,
    clerk_id: DbInt | None = None,
    service_code: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    """Totals, tickets per hour, waiting-time distribution, ratings and 最多跑一次 for the period."""
    ctx, scope = _scope(request, creds, hall_id, day_from, day_to, subtree, window_id, clerk_id, service_code)
    with ctx.db.read() as s:
        return svc.summary(s, scope)


@router.get("/halls/{hall_id}/stats/breakdown")
def breakdown(
    hall_id: str,
    request: Request,
    creds: Creds,
    by: str = Query(default="service", max_length=10),
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
) -> list[dict[str, Any]]:
    """Per service item, window, clerk, hall, group, day or hour: counts, times and rating indicators."""
    ctx, scope = _scope(request, creds, hall_id, day_from, day_to, subtree)
    with ctx.db.read() as s:
        return svc.breakdown(s, scope, by)


@router.get("/halls/{hall_id}/indicators")
def indicators(
    hall_id: str,
    request: Request,
    creds: Creds,
    by: str | None = Query(default=None, max_length=10),
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
) -> dict[str, Any]:
    """The six 好差评 indicators in total and, with ?by=, per window, clerk, service item, hall or day."""
    ctx, scope = _scope(request, creds, hall_id, day_from, day_to, subtree)
    with ctx.db.read() as s:
        facts = svc.load_facts(s, scope, (by,) if by else ())
        total = svc.rating_indicators(s, scope, None, facts).get("all")
        rows = []
        if by:
            for item in svc.breakdown(s, scope, by, facts):
                rows.append({"key": item["key"], "label": item["label"], "indicators": item["ratings"]})
        return {
            "from": scope.day_from.isoformat(),
            "to": scope.day_to.isoformat(),
            "total": total,
            "by": by,
            "rows": rows,
        }


@router.get("/halls/{hall_id}/stats/export.csv")
def export_csv(
    hall_id: str,
    request: Request,
    creds: Creds,
    by: str = Query(default="service", max_length=10),
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
) -> Response:
    """The breakdown as CSV (UTF-8 with BOM, Chinese headers)."""
    ctx, scope = _scope(request, creds, hall_id, day_from, day_to, subtree)
    with ctx.db.read() as s:
        text = to_csv(s, scope, by)
    name = f"stats-{hall_id}-{scope.day_from}-{scope.day_to}-{by}.csv"
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/halls/{hall_id}/stats/export.xlsx")
def export_xlsx(
    hall_id: str,
    request: Request,
    creds: Creds,
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
) -> Response:
    """An Excel workbook: 汇总 plus one sheet per grouping."""
    ctx, scope = _scope(request, creds, hall_id, day_from, day_to, subtree)
    with ctx.db.read() as s:
        data = to_xlsx(s, scope)
    name = f"stats-{hall_id}-{scope.day_from}-{scope.day_to}.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})
