"""How managers' screens and exports name a window: "hall · number window name", never a database id."""

from __future__ import annotations


def window_title(hall_name: str, number: int, name: str | None) -> str:
    """ "测试市政务服务中心 · 2号窗口 综合窗口": 1号窗口 alone is ambiguous across halls, a name across windows."""
    numbered = f"{number}号窗口"
    extra = f" {name}" if name and name != numbered else ""
    return f"{hall_name} · {numbered}{extra}"
