"""A grid of label rows that shows as many items as fit at their natural size and turns pages on a timer."""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRect, QSize, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from kiosk.ui.widgets import label, restyle

logger = logging.getLogger(__name__)


def _update(lab: QLabel, text: str, role: str, tooltip: str, box: QRect) -> None:
    """Change only what differs: the grid is redrawn on every event of a busy hall, and each Qt
    call has a cost."""
    if lab.property("role") != role:
        restyle(lab, role)
    if lab.text() != text:
        lab.setText(text)
    if lab.toolTip() != tooltip:
        lab.setToolTip(tooltip)
    if lab.geometry() != box:
        lab.setGeometry(box)
    if lab.isHidden():
        lab.show()


@dataclass(frozen=True)
class GridItem:
    """One entry of the grid: a key (window id, group prefix) and its parts, each (text, style role)."""

    key: Hashable
    parts: tuple[tuple[str, str], ...]
    tooltip: str = ""


class PagedGrid(QWidget):
    """Items in rows and columns at their natural size; what does not fit goes to further pages.

    Fonts never shrink with the number of items (a display must stay readable from a few metres):
    the grid pages instead. Its size hint does not depend on the items, so the screen's layout is
    the same for 4 windows and for 60, and the pages follow from the space the layout gives.
    """

    page_changed = Signal(int, int)  # page index (0-based), page count
    rows_wanted_changed = Signal(int)  # rows needed to show every item at the current width

    def __init__(self, interval_ms: int, col_gap: int, row_gap: int, part_gap: int) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.col_gap, self.row_gap, self.part_gap = col_gap, row_gap, part_gap
        self.items: list[GridItem] = []
        self.page = 0
        self.pages = 1
        self.per_page = 0
        self.cols = 1
        self._part_w: list[int] = []
        self._row_h = 0
        self._pool: list[list[QLabel]] = []
        self._probes: dict[str, QLabel] = {}
        # Keys that changed while their page was hidden, oldest first: their pages come next, in turn.
        self._wanted: list[Hashable] = []
        self._clip_logged = False
        self._announced: tuple[int, int] = (-1, -1)
        self.rows_wanted = 0
        # Shown by the owner next to its section title: "第1/3页", hidden while everything fits.
        self.indicator = label("", "pageinfo")
        self.indicator.hide()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.turn_page)

    # -- what to show -------------------------------------------------------------------------------
    def set_items(self, items: Sequence[GridItem], widest: GridItem | None = None) -> None:
        """Replace the items; the page shown stays (clamped), a wanted key still goes next.

        widest is measured but not shown: room kept for texts to come (a ticket number where
        空闲 stands now, a count passing 9), so the columns do not jump on every call.
        """
        self.items = list(items)
        self._measure([*self.items, widest] if widest is not None and self.items else self.items)
        self._relayout()

    def want(self, key: Hashable) -> None:
        """Show the page holding key at a coming turn (a new call there), unless it is on screen now."""
        if not self.is_visible_key(key) and key not in self._wanted:
            self._wanted.append(key)

    def page_of(self, key: Hashable) -> int | None:
        """The page an item is on, or None when there is no such item (or no room at all)."""
        for i, item in enumerate(self.items):
            if item.key == key:
                return i // self.per_page if self.per_page else None
        return None

    def is_visible_key(self, key: Hashable) -> bool:
        """True when the item is on the page shown now."""
        return self.per_page > 0 and self.page_of(key) == self.page

    def visible_items(self) -> list[GridItem]:
        """The items of the page shown now."""
        if not self.per_page:
            return []
        start = self.page * self.per_page
        return self.items[start : start + self.per_page]

    def turn_page(self) -> None:
        """Next page (or the wanted one); called by the timer, cheap enough for the Qt thread."""
        if self.pages <= 1:
            self._wanted.clear()
            return
        target = None
        while self._wanted and target is None:
            page = self.page_of(self._wanted.pop(0))
            # A key on the page shown now has been seen since it changed; one gone is dropped.
            if page is not None and page != self.page:
                target = page
        self.page = target if target is not None else (self.page + 1) % self.pages
        self._place()

    def cell_size(self) -> QSize:
        """The room one item needs: all its parts side by side, one row high."""
        return QSize(self._item_width(), self._row_h)

    def labels(self) -> list[QLabel]:
        """The labels on screen now (for tests and screenshots)."""
        return [lab for row in self._pool for lab in row if not lab.isHidden()]

    # -- geometry ----------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(max(sum(self._part_w), 1), max(self._row_h, 1) * 3)

    def minimumSizeHint(self) -> QSize:
        # One row at least; never the whole list, or a large hall would push the screen off 720p.
        return QSize(0, self._row_h)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _probe(self, role: str) -> QLabel:
        """A hidden label of the role, styled like the visible ones, to measure texts with."""
        probe = self._probes.get(role)
        if probe is None:
            probe = label("", role)
            probe.setParent(self)
            probe.hide()
            probe.ensurePolished()
            self._probes[role] = probe
        return probe

    def _measure(self, items: Sequence[GridItem]) -> None:
        """Column widths per part (widest text of all items, not just one page) and the row height."""
        widths: list[int] = []
        row_h = 0
        for item in items:
            for i, (text, role) in enumerate(item.parts):
                probe = self._probe(role)
                if probe.text() != text:
                    probe.setText(text)
                hint = probe.sizeHint()
                if i == len(widths):
                    widths.append(0)
                widths[i] = max(widths[i], hint.width())
                row_h = max(row_h, hint.height())
        if row_h != self._row_h or widths != self._part_w:
            self._part_w, self._row_h = widths, row_h
            self.updateGeometry()

    def _item_width(self) -> int:
        return sum(self._part_w) + self.part_gap * max(0, len(self._part_w) - 1)

    def _relayout(self) -> None:
        """Rows and columns that fit the current size, balanced pages, then place the page."""
        n = len(self.items)
        item_w = self._item_width()
        if n == 0 or self._row_h == 0:
            self.per_page, self.pages, self.page = 0, 1, 0
            self._place()
            return
        max_cols = max(1, (self.width() + self.col_gap) // (item_w + self.col_gap))
        max_rows = max(0, (self.height() + self.row_gap) // (self._row_h + self.row_gap))
        # Depends on the width only, so an owner may share heights by it without a feedback loop.
        wanted = math.ceil(n / max_cols)
        if wanted != self.rows_wanted:
            self.rows_wanted = wanted
            self.rows_wanted_changed.emit(wanted)
        if item_w > self.width() > 0 and not self._clip_logged:
            self._clip_logged = True
            logger.warning("display grid: an item needs %d px, the column has %d", item_w, self.width())
        if max_rows == 0:
            # Not laid out yet (or no room): show nothing rather than spill over the panel.
            self.per_page, self.pages, self.page = 0, 1, 0
            self._place()
            return
        capacity = max_cols * max_rows
        if n <= capacity:
            # One page: about square, but never taller than the room.
            self.cols = min(max_cols, max(math.ceil(n / max_rows), math.ceil(math.sqrt(n))))
            self.per_page, self.pages = n, 1
        else:
            # Balanced pages (60 in pages of 24 -> 20, 20, 20): no last page with a lonely item.
            self.cols = max_cols
            self.pages = math.ceil(n / capacity)
            per = math.ceil(n / self.pages)
            self.per_page = math.ceil(per / self.cols) * self.cols if per > self.cols else per
            self.per_page = min(self.per_page, capacity)
            self.pages = math.ceil(n / self.per_page)
        self.page = min(self.page, self.pages - 1)
        self._place()

    def _place(self) -> None:
        """Put the page's items on labels from the pool; hide the rest."""
        shown = self.visible_items()
        parts = len(self._part_w)
        while len(self._pool) < len(shown):
            row = []
            for _ in range(parts):
                lab = label("", None)
                lab.setParent(self)
                row.append(lab)
            self._pool.append(row)
        cols = max(1, self.cols)
        col_w = max(self._item_width(), (self.width() - self.col_gap * (cols - 1)) // cols)
        for slot, row in enumerate(self._pool):
            item = shown[slot] if slot < len(shown) else None
            for i, lab in enumerate(row):
                if item is None or i >= len(item.parts):
                    if not lab.isHidden():
                        lab.hide()
                    continue
                text, role = item.parts[i]
                x = (slot % cols) * (col_w + self.col_gap) + sum(self._part_w[:i]) + self.part_gap * i
                # The last part takes the rest of its column, so a longer text later is not cut.
                w = self._part_w[i] if i < parts - 1 else col_w - (x - (slot % cols) * (col_w + self.col_gap))
                y = (slot // cols) * (self._row_h + self.row_gap)
                _update(lab, text, role, item.tooltip, QRect(x, y, w, self._row_h))
        paged = self.pages > 1
        if paged and self.indicator.text() != (text := f"第{self.page + 1}/{self.pages}页"):
            self.indicator.setText(text)
        if self.indicator.isHidden() == paged:
            self.indicator.setVisible(paged)
        if paged and not self.timer.isActive():
            self.timer.start()
        elif not paged and self.timer.isActive():
            self.timer.stop()
        if (self.page, self.pages) != self._announced:
            self._announced = (self.page, self.pages)
            self.page_changed.emit(self.page, self.pages)
