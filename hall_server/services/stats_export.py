"""Statistics exports: CSV (UTF-8 with BOM so Excel opens Chinese correctly) and an Excel workbook."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server.auth import Principal
from hall_server.context import ServerContext
from hall_server.db.models import Hall, User, Window
from hall_server.services import stat_rollups, xlsx_stream
from hall_server.services.stats import Scope, StatsQuery, breakdown, check_by, figures, scope_for, summary

logger = logging.getLogger(__name__)

HEADERS_ZH = [
    "分组",
    "名称",
    "取号数",
    "办结数",
    "过号数",
    "转移次数",
    "预约号数",
    "平均等候(分钟)",
    "90%等候(分钟)",
    "等候超时占比",
    "平均办理(分钟)",
    "90%办理(分钟)",
    "评价数",
    "好评率",
    "主动评价好评率",
    "未评率",
    "差评数",
    "差评回复率",
    "回访整改率",
    "回访整改满意率",
]
SHEETS = (
    ("service", "按事项"),
    ("window", "按窗口"),
    ("clerk", "按工作人员"),
    ("hall", "按大厅"),
    ("day", "按日"),
    ("hour", "按小时"),
)


def _minutes(sec: float | None) -> float | None:
    return None if sec is None else round(sec / 60.0, 2)


def _pct(x: float | None) -> float | None:
    return None if x is None else round(x * 100.0, 2)


def shown_keys(session: Session, by: str, items: list[dict[str, Any]]) -> dict[Any, Any]:
    """What the 分组 column shows for a key: no database ids (a window's number, a clerk's log-in name)."""
    keys = [i["key"] for i in items if i["key"] is not None]
    if by == "window":
        rows = session.execute(select(Window.id, Window.number).where(Window.id.in_(keys)))
        return {i: f"{n}号" for i, n in rows}
    if by == "clerk":
        return dict(session.execute(select(User.id, User.username).where(User.id.in_(keys))).all())
    return {k: k for k in keys}


def row_values(item: dict[str, Any], shown: dict[Any, Any] | None = None) -> list[Any]:
    """One breakdown row as spreadsheet cells (percentages as numbers 0..100)."""
    r = item.get("ratings") or {}
    return [
        (shown or {}).get(item["key"], item["key"]),
        item["label"],
        item["issued"],
        item["served"],
        item["no_show"],
        item["transferred"],
        item["appointment_tickets"],
        _minutes(item["wait"]["average"]),
        _minutes(item["wait"]["p90"]),
        _pct(item["wait"]["above_target_share"]),
        _minutes(item["service"]["average"]),
        _minutes(item["service"]["p90"]),
        r.get("rated", 0),
        _pct(r.get("good_rate")),
        _pct(r.get("unprompted_good_rate")),
        _pct(r.get("unrated_rate")),
        r.get("bad", 0),
        _pct(r.get("bad_reply_rate")),
        _pct(r.get("revisit_fix_rate")),
        _pct(r.get("revisit_satisfaction_rate")),
    ]


def to_csv(session: Session, scope: Scope, by: str) -> str:
    """The breakdown by `by` as CSV text with a BOM and a header row in Chinese."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(HEADERS_ZH)
    items = breakdown(session, scope, by)
    shown = shown_keys(session, by, items)
    for item in items:
        w.writerow(["" if v is None else v for v in row_values(item, shown)])
    return buf.getvalue()


def _hall_names(session: Session, hall_ids: list[str]) -> list[str]:
    names = dict(session.execute(select(Hall.id, Hall.name).where(Hall.id.in_(hall_ids))).all())
    return [names.get(h, h) for h in hall_ids]


def to_xlsx(session: Session, scope: Scope) -> bytes:
    """A workbook of figures only: 汇总 (totals and indicators), then one sheet per grouping.

    No sheet lists tickets: a manager's period workbook is the figures, and a city-year has
    millions of tickets, past Excel's 1,048,576 rows a sheet; tickets are looked up per hall.
    """
    fig = figures(session, scope)  # with a filter: one pass over the tickets for every sheet
    s = summary(session, scope, fig)
    t = s["totals"]
    ind = s["ratings"]["indicators"]
    rows: list[list[Any]] = [
        ["大厅", "、".join(_hall_names(session, s["hall_ids"]))],
        ["期间", f"{s['from']} 至 {s['to']}"],
        ["取号数", t["issued"]],
        ["办结数", t["served"]],
        ["过号数", t["no_show"]],
        ["日终未办结数", t["unserved"]],
        ["转移次数", t["transferred"]],
        ["平均等候(分钟)", _minutes(t["wait"]["average"])],
        ["90%等候(分钟)", _minutes(t["wait"]["p90"])],
        ["等候超时占比(%)", _pct(t["wait"]["above_target_share"])],
        ["平均办理(分钟)", _minutes(t["service"]["average"])],
        ["预约数", t["appointments_booked"]],
        ["预约到场", t["appointments_kept"]],
        ["预约爽约", t["appointments_missed"]],
        ["好评率(%)", _pct(ind["good_rate"])],
        ["主动评价好评率(%)", _pct(ind["unprompted_good_rate"])],
        ["未评率(%)", _pct(ind["unrated_rate"])],
        ["差评回复率(%)", _pct(ind["bad_reply_rate"])],
        ["回访整改率(%)", _pct(ind["revisit_fix_rate"])],
        ["回访整改满意率(%)", _pct(ind["revisit_satisfaction_rate"])],
        ["办件数", s["visits"]["matters"]],
        ["最多跑一次率(%)", _pct(s["visits"]["at_most_once_rate"])],
        ["平均跑动次数", s["visits"]["average_visits"]],
    ]
    sheets: list[tuple[str, list[list[Any]]]] = [("汇总", rows)]
    for by, title in SHEETS:
        items = breakdown(session, scope, by, fig)
        shown = shown_keys(session, by, items)
        sheets.append((title, [HEADERS_ZH, *(row_values(item, shown) for item in items)]))
    return xlsx_stream.workbook(sheets)


def export_csv_of(ctx: ServerContext, p: Principal, q: StatsQuery, by: str) -> tuple[str, str]:
    """Use case: (file name, CSV text) of a breakdown."""
    check_by(by)
    scope = scope_for(ctx, p, q)
    stat_rollups.catch_up(ctx.db)
    with ctx.db.read() as s:
        text = to_csv(s, scope, by)
    return f"stats-{q.hall_id}-{scope.day_from}-{scope.day_to}-{by}.csv", text


def export_xlsx_of(ctx: ServerContext, p: Principal, q: StatsQuery) -> tuple[str, bytes]:
    """Use case: (file name, workbook bytes): 汇总 plus one sheet per grouping."""
    scope = scope_for(ctx, p, q)
    stat_rollups.catch_up(ctx.db)
    with ctx.db.read() as s:
        data = to_xlsx(s, scope)
    return f"stats-{q.hall_id}-{scope.day_from}-{scope.day_to}.xlsx", data
