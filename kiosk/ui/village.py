"""Village station: kiosk, clerk terminal and rating on one machine, one screen, one shared ID reader."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from kiosk.outbox import RatingOutbox
from kiosk.ui.clerk import ClerkTerminal
from kiosk.ui.context import AppContext
from kiosk.ui.link import LinkBanner
from kiosk.ui.rating import RatingTerminal
from kiosk.ui.theme import sc
from kiosk.ui.visitor import VisitorKiosk

logger = logging.getLogger(__name__)


class VillageStation(QWidget):
    """Tabs for the three roles; the ID reader goes to whichever tab is showing."""

    def __init__(self, ctx: AppContext, outbox: RatingOutbox) -> None:
        super().__init__()
        self.setObjectName("root")
        self.ctx = ctx
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        ctx.extras["compact"] = True  # three roles share one 1080p screen under a tab bar
        self.tabs = QTabWidget()
        self.tabs.setStyleSheet(f"QTabBar::tab {{ min-height: {sc(52)}px; }}")
        self.tabs.setObjectName("village-tabs")
        self.visitor = VisitorKiosk(ctx)
        self.clerk = ClerkTerminal(ctx)
        self.rating = RatingTerminal(ctx, outbox)
        self.tabs.addTab(self.visitor, "自助取号")
        self.tabs.addTab(self.clerk, "窗口办理")
        self.tabs.addTab(self.rating, "服务评价")
        # The station's link to the city: a notice above the tabs while it has a problem (every
        # tab keeps working; the station's own server serves them).
        self.link_banner = LinkBanner(ctx)
        lay.addWidget(self.link_banner)
        lay.addWidget(self.tabs)
        # One screen: when the clerk finishes, the rating tab comes forward for the visitor.
        self.rating.pages.currentChanged.connect(self._rating_page_changed)
        self.ready = self.visitor.ready
        self.is_ready_fn = lambda: self.visitor.is_ready

    @property
    def is_ready(self) -> bool:
        """Ready when the kiosk tab has loaded."""
        return self.visitor.is_ready

    def _rating_page_changed(self, _index: int) -> None:
        if self.rating.pages.currentWidget() is self.rating.rate_page:
            self.tabs.setCurrentWidget(self.rating)

    def show_tab(self, name: str) -> None:
        """visitor | clerk | rating."""
        self.tabs.setCurrentWidget(
            {"visitor": self.visitor, "clerk": self.clerk, "rating": self.rating}[name]
        )

    def closeEvent(self, event: Any) -> None:
        self.visitor.close()
        super().closeEvent(event)
