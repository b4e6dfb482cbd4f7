"""The service guide page (办事指南): materials list, time limit, steps, and printing the guide slip."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QListWidget, QVBoxLayout, QWidget

from kiosk.errors import PrintFailed
from kiosk.hardware import material_text, time_limit_text
from kiosk.ui.context import AppContext
from kiosk.ui.lang import texts_of
from kiosk.ui.widgets import MessageLine, button, label
from wire import ServiceOut

logger = logging.getLogger(__name__)

Runner = Callable[..., None]


class GuidePage(QWidget):
    """Shows one service's full guide (fetched in the background) and prints it on request."""

    def __init__(
        self, ctx: AppContext, run: Runner, message: MessageLine, on_back: Callable[[], None]
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.run = run
        self.message = message
        self.service: ServiceOut | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)  # the screen's body has the margins
        self.title = label("", "title")
        lay.addWidget(self.title)
        self.limit = label("", "subtitle", wrap=True)
        lay.addWidget(self.limit)
        texts = texts_of(ctx.extras)
        lay.addWidget(texts.bind(label("", "big"), "所需材料", "Materials"))
        self.materials = QListWidget()
        self.materials.setObjectName("materials")
        self.materials.setAccessibleName("所需材料")
        lay.addWidget(self.materials, 1)
        self.steps = label("", None, wrap=True)
        lay.addWidget(self.steps)
        row = QHBoxLayout()
        row.addWidget(texts.bind(button("", on_back, name="guide-back"), "返回", "Back"))
        self.print_btn = button("", self.print_guide, "primary", name="print-guide")
        texts.bind(self.print_btn, "打印办事指南", "Print guide")
        row.addWidget(self.print_btn)
        lay.addLayout(row)

    def show_service(self, svc: ServiceOut) -> None:
        """Fill the page for this service (the full guide is fetched from the server)."""
        self.service = svc
        self.title.setText(f"办事指南：{svc.name}")
        self.materials.clear()
        self.steps.setText("")
        self.limit.setText("正在加载…")

        def done(full: ServiceOut) -> None:
            self.service = full
            guide = full.guide
            self.limit.setText(time_limit_text(full) or "")
            for m in guide.get("materials") or []:
                self.materials.addItem("• " + material_text(m))
            steps = guide.get("steps") or []
            self.steps.setText("办理流程：" + " → ".join(str(s) for s in steps) if steps else "")

        def failed(exc: BaseException) -> None:
            self.limit.setText(getattr(exc, "message_zh", "办事指南加载失败"))

        self.run(lambda: self.ctx.client.service(svc.code, self.ctx.hall_id), done, failed)

    def print_guide(self) -> None:
        """Print the guide slip; the button is disabled while it prints (no double slips)."""
        svc = self.service
        printer = self.ctx.printer
        if not svc or not printer or not printer.configured:
            self.message.show_error(PrintFailed("本机未配置打印机，请拍照留存办事指南", "no printer"))
            return
        self.print_btn.setEnabled(False)

        def finish(_r: Any = None) -> None:
            self.print_btn.setEnabled(True)
            self.message.show_ok("办事指南已打印，请取走")

        def failed(exc: BaseException) -> None:
            self.print_btn.setEnabled(True)
            self.message.show_error(exc)

        hall_name = self.ctx.hall_name
        self.run(lambda: printer.print_guide(svc, hall_name), finish, failed)
