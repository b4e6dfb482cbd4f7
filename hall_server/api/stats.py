"""Statistics and indicators of a hall subtree for a period, with CSV and Excel exports (managers)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from hall_server.api.deps import Creds, run_authed
from hall_server.api.schemas import DbInt, ErrorOut
from hall_server.services import stats as svc
from hall_server.services import stats_export

logger = logging.getLogger(__name__)

router = APIRouter(tags=["statistics"], responses={403: {"model": ErrorOut}, 422: {"model": ErrorOut}})

FromDay = Annotated[date | None, Query(alias="from", description="first business day (default today)")]
ToDay = Annotated[date | None, Query(alias="to", description="last business day, inclusive")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/halls/{hall_id}/stats")
async def summary(
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
    q = svc.StatsQuery(hall_id, day_from, day_to, subtree, window_id, clerk_id, service_code)
    return await run_authed(request, creds, svc.summary_of, q)


@router.get("/halls/{hall_id}/stats/breakdown")
async def breakdown(
    hall_id: str,
    request: Request,
    creds: Creds,
    by: str = Query(default="service", max_length=10),
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
) -> list[dict[str, Any]]:
    """Per service item, window, clerk, hall, group, day or hour: counts, times and rating indicators."""
    return await run_authed(
        request, creds, svc.breakdown_of, svc.StatsQuery(hall_id, day_from, day_to, subtree), by
    )


@router.get("/halls/{hall_id}/indicators")
async def indicators(
    hall_id: str,
    request: Request,
    creds: Creds,
    by: str | None = Query(default=None, max_length=10),
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
) -> dict[str, Any]:
    """The six 好差评 indicators in total and, with ?by=, per window, clerk, service item, hall or day."""
    q = svc.StatsQuery(hall_id, day_from, day_to, subtree)
    return await run_authed(request, creds, svc.indicators_of, q, by)


@router.get("/halls/{hall_id}/stats/export.csv")
async def export_csv(
    hall_id: str,
    request: Request,
    creds: Creds,
    by: str = Query(default="service", max_length=10),
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
) -> Response:
    """The breakdown as CSV (UTF-8 with BOM, Chinese headers)."""
    q = svc.StatsQuery(hall_id, day_from, day_to, subtree)
    name, text = await run_authed(request, creds, stats_export.export_csv_of, q, by)
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/halls/{hall_id}/stats/export.xlsx")
async def export_xlsx(
    hall_id: str,
    request: Request,
    creds: Creds,
    day_from: FromDay = None,
    day_to: ToDay = None,
    subtree: bool = True,
) -> Response:
    """An Excel workbook: 汇总 plus one sheet per grouping."""
    q = svc.StatsQuery(hall_id, day_from, day_to, subtree)
    name, data = await run_authed(request, creds, stats_export.export_xlsx_of, q)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})
