"""Turn a layout into printer-neutral blocks (text lines, rules, QR codes) sized for a paper width."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from printers.const import CELL_W, DOTS_BY_WIDTH_MM, MISSED_NUMBER_RULE_EN, MISSED_NUMBER_RULE_ZH
from printers.layout import GuideSlip, Material, ReceiptLayout, ReceiptLine, TicketLayout

Align = Literal["left", "center", "right"]


@dataclass(frozen=True)
class Text:
    """One printed line (already wrapped) with its character magnification."""

    text: str
    width: int = 1
    height: int = 1
    bold: bool = False
    align: Align = "left"


@dataclass(frozen=True)
class Rule:
    """A separator line across the paper."""


@dataclass(frozen=True)
class Qr:
    """A QR code, centred, with a module size in dots."""

    data: str
    box: int = 6


@dataclass(frozen=True)
class Feed:
    """Blank paper, in text lines."""

    lines: int = 1


Block = Text | Rule | Qr | Feed


def char_cells(ch: str) -> int:
    """Half-width cells a character takes on the printer (CJK and full-width take two)."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_cells(text: str) -> int:
    """Half-width cells a string takes."""
    return sum(char_cells(c) for c in text)


def columns(width_mm: int, scale: int = 1) -> int:
    """Half-width cells per line for a paper width and a horizontal magnification."""
    return DOTS_BY_WIDTH_MM[width_mm] // (CELL_W * scale)


def wrap(text: str, cols: int, indent: int = 0) -> list[str]:
    """Wrap at display cells; continuation lines get `indent` spaces (hanging indent)."""
    lines: list[str] = []
    line, used = "", 0
    for ch in text:
        w = char_cells(ch)
        if used + w > cols and line:
            lines.append(line.rstrip())
            line, used = " " * indent, indent
            if ch == " ":
                continue
        line += ch
        used += w
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _texts(text: str, cols: int, *, indent: int = 0, **style: object) -> list[Block]:
    return [Text(line, **style) for line in wrap(text, cols, indent)]  # type: ignore[arg-type]


def _row(label: str, value: str, cols: int, bold: bool = False) -> list[Block]:
    """A `label：value` row whose value wraps under itself."""
    head = f"{label}："
    return _texts(head + value, cols, indent=min(text_cells(head), cols // 2), bold=bold)


def _fit_scale(text: str, width_mm: int, largest: int) -> int:
    """The largest magnification (<= largest) at which the text fits on one line."""
    for scale in range(largest, 0, -1):
        if text_cells(text) <= columns(width_mm, scale):
            return scale
    return 1


def _centered(text: str, width_mm: int, **style: object) -> list[Block]:
    scale = int(style.get("width", 1))  # type: ignore[call-overload]
    return _texts(text, columns(width_mm, scale), align="center", **style)


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def ticket_blocks(t: TicketLayout, width_mm: int) -> list[Block]:
    """The blocks of a queue ticket: hall, big number, where to go, service, wait, QR, the missed-number
    rule; Chinese only, unless the ticket is an English one (then each label has its English too)."""
    cols = columns(width_mm)

    def say(zh: str, en: str) -> str:
        return f"{zh} {en}" if t.english else zh

    out: list[Block] = []
    hall_w = _fit_scale(t.hall_name, width_mm, 2)
    out += _centered(t.hall_name, width_mm, width=hall_w, height=2, bold=True)
    out += _centered(say("排队凭条", "Queue ticket"), width_mm)
    out.append(Rule())
    out += _centered(say("您的号码", "Your number"), width_mm)
    big = _fit_scale(t.number, width_mm, 6 if width_mm == 58 else 8)
    out.append(Text(t.number, width=big, height=big, bold=True, align="center"))
    if t.priority_label:
        out += _centered(f"【{t.priority_label}】", width_mm, width=1, height=2, bold=True)
    if t.window_hint:
        # Where to go comes right under the number, large: it is what the visitor does next.
        out += _centered(t.window_hint, width_mm, width=1, height=2, bold=True)
        if t.english and t.window_hint_en:
            out += _centered(t.window_hint_en, width_mm)
    out.append(Feed(1))
    out += _row(say("业务事项", "Service"), t.service_name, cols, bold=True)
    out += _row(say("等候人数", "Ahead"), say(f"{t.people_ahead} 人", f"{t.people_ahead} people"), cols)
    if t.estimated_wait_minutes is not None:
        wait = t.estimated_wait_minutes
        out += _row(say("预计等待", "Wait"), say(f"约 {wait} 分钟", f"about {wait} min"), cols)
    out += _row(say("取号时间", "Time"), _time(t.issued_at), cols)
    if t.holder_masked:
        out += _row(say("持号人", "Holder"), t.holder_masked, cols)
    if t.qr_url:
        out.append(Rule())
        out.append(Qr(t.qr_url, box=6 if width_mm == 58 else 8))
        out += _centered("扫码查看排队进度", width_mm)
        if t.english:
            out += _centered("Scan to follow the queue", width_mm)
    out.append(Rule())
    out += _centered(MISSED_NUMBER_RULE_ZH, width_mm, bold=True)
    if t.english:
        out += _centered(MISSED_NUMBER_RULE_EN, width_mm)
    for note in t.notes:
        if MISSED_NUMBER_RULE_ZH not in note and MISSED_NUMBER_RULE_EN not in note:
            out += _texts(note, cols)
    return out


def _material_line(i: int, m: str | Material, cols: int) -> list[Block]:
    if isinstance(m, str):
        return _texts(f"{i}. {m}", cols, indent=len(str(i)) + 2)
    parts = []
    if m.originals:
        parts.append(f"原件{m.originals}份")
    if m.copies:
        parts.append(f"复印件{m.copies}份")
    text = f"{i}. {m.name}" + (f"（{'、'.join(parts)}）" if parts else "") + (f" {m.note}" if m.note else "")
    return _texts(text, cols, indent=len(str(i)) + 2)


def guide_blocks(g: GuideSlip, width_mm: int) -> list[Block]:
    """The blocks of a service guide slip: materials checklist, time limit, steps."""
    cols = columns(width_mm)
    out: list[Block] = []
    out += _centered("办事指南", width_mm, width=2, height=2, bold=True)
    out += _centered("Service guide", width_mm)
    out += _centered(g.hall_name, width_mm)
    out.append(Rule())
    out += _texts(g.service_name, columns(width_mm, 1), bold=True, height=2)
    out.append(Feed(1))
    out += _texts("材料清单 Materials", cols, bold=True)
    for i, m in enumerate(g.materials, 1):
        out += _material_line(i, m, cols)
    if g.time_limit:
        out.append(Feed(1))
        out += _row("办理时限 Time limit", g.time_limit, cols, bold=False)
    if g.steps:
        out.append(Feed(1))
        out += _texts("办理流程 Steps", cols, bold=True)
        for i, step in enumerate(g.steps, 1):
            out += _texts(f"{i}. {step}", cols, indent=len(str(i)) + 2)
    if g.details:
        out.append(Feed(1))
        for label, value in g.details:
            out += _texts(f"{label}：{value}", cols, indent=min(text_cells(label) + 2, cols // 2))
    if g.version:
        out += _texts(g.version, cols)
    if g.notes:
        out.append(Rule())
        for note in g.notes:
            out += _texts(note, cols)
    if g.qr_url:
        out.append(Qr(g.qr_url, box=5 if width_mm == 58 else 6))
        out += _centered("扫码查看完整指南 Scan for the full guide", width_mm)
    return out


def _receipt_row(line: str | ReceiptLine, cols: int) -> list[Block]:
    if isinstance(line, str):
        return _texts(line, cols)
    gap = cols - text_cells(line.label) - text_cells(line.value)
    if gap >= 1:
        return [Text(line.label + " " * gap + line.value)]
    return [*_texts(line.label, cols), Text(line.value, align="right")]


def receipt_blocks(r: ReceiptLayout, width_mm: int) -> list[Block]:
    """The blocks of a plain receipt: title, rows with right-aligned values, footer."""
    cols = columns(width_mm)
    out: list[Block] = []
    if r.hall_name:
        out += _centered(r.hall_name, width_mm, bold=True)
    out += _centered(r.title, width_mm, width=_fit_scale(r.title, width_mm, 2), height=2, bold=True)
    out.append(Rule())
    for line in r.lines:
        out += _receipt_row(line, cols)
    out.append(Rule())
    for line in r.footer:
        out += _texts(line, cols)
    if r.printed_at:
        out += _row("打印时间", _time(r.printed_at), cols)
    return out


def layout_blocks(layout: TicketLayout | GuideSlip | ReceiptLayout, width_mm: int) -> list[Block]:
    """Blocks for any layout."""
    if width_mm not in DOTS_BY_WIDTH_MM:
        raise ValueError(f"paper width must be one of {sorted(DOTS_BY_WIDTH_MM)} mm, not {width_mm}")
    if isinstance(layout, TicketLayout):
        return ticket_blocks(layout, width_mm)
    if isinstance(layout, GuideSlip):
        return guide_blocks(layout, width_mm)
    if isinstance(layout, ReceiptLayout):
        return receipt_blocks(layout, width_mm)
    raise TypeError(f"cannot print a {type(layout).__name__}")
