"""A grid of label rows that shows as many items as fit at their natural size and turns pages on a timer.

Items may belong to sections (the zones of a hall: B区): a section starts with a heading row, and a
section continued on the next page repeats its heading. When not everything fits one page, idle
items (a window with nothing to say, 空闲) are left out. One item may be pinned: it is on every
page (the window of the call on screen stays in sight while its call is shown).
"""

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
    """One entry of the grid: a key (window id, group prefix) and its parts, each (text, style role).

    section: the heading the item is shown under ("B区"; "" for none); items of a section must be
    next to each other. idle: left out when not every item fits one page.
    """

    key: Hashable
    parts: tuple[tuple[str, str], ...]
    tooltip: str = ""
    section: str = ""
    idle: bool = False


class PagedGrid(QWidget):
    """Items in rows and columns at their natural size; what does not fit goes to further pages.

    Fonts never shrink with the number of items (a display must stay readable across the hall):
    the grid leaves idle items out and pages instead. Its size hint does not depend on the items,
    so the screen's layout is the same for 4 windows and for 60, and the pages follow from the
    space the layout gives.
    """

    page_changed = Signal(int, int)  # page index (0-based), page count
    rows_wanted_changed = Signal(int)  # rows needed to show every shown item at the current width
    idle_left_out_changed = Signal(bool)  # whether the idle items are left out now

    def __init__(
        self, interval_ms: int, col_gap: int, row_gap: int, part_gap: int, heading_role: str = "zone"
    ) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.col_gap, self.row_gap, self.part_gap = col_gap, row_gap, part_gap
        self.heading_role = heading_role
        self.items: list[GridItem] = []
        # The items laid out: all of them, or without the idle ones when all need more than a page.
        self.shown: list[GridItem] = []
        self.idle_left_out = False
        self._pages: list[list[int]] = [[]]  # indices into shown, per page
        self.page = 0
        self.pages = 1
        self.per_page = 0
        self.cols = 1
        self.pinned: Hashable | None = None
        self._part_w: list[int] = []
        self._row_h = 0
        self._head_h = 0  # a section heading's row (smaller type than the items: it is only a label)
        self._pool: list[list[QLabel]] = []
        self._heads: list[QLabel] = []
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

    def pin(self, key: Hashable | None) -> None:
        """Keep this item on every page (None: no item pinned)."""
        if key != self.pinned:
            self.pinned = key
            self._relayout()

    def want(self, key: Hashable) -> None:
        """Show the page holding key at a coming turn (a new call there), unless it is on screen now."""
        if not self.is_visible_key(key) and key not in self._wanted:
            self._wanted.append(key)

    def page_of(self, key: Hashable) -> int | None:
        """The page an item is on (the page shown now for the pinned one), or None when not shown."""
        index = self._index(key)
        if index is None:
            return None
        if key == self.pinned:
            return self.page
        return next((n for n, page in enumerate(self._pages) if index in page), None)

    def is_visible_key(self, key: Hashable) -> bool:
        """True when the item is on the page shown now."""
        index = self._index(key)
        return index is not None and index in self._pages[self.page]

    def visible_items(self) -> list[GridItem]:
        """The items of the page shown now, in order."""
        return [self.shown[i] for i in self._pages[self.page]]

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
        """The item labels on screen now (for tests and screenshots)."""
        return [lab for row in self._pool for lab in row if not lab.isHidden()]

    def headings(self) -> list[QLabel]:
        """The section headings on screen now, top to bottom."""
        return sorted((h for h in self._heads if not h.isHidden()), key=lambda h: h.y())

    # -- geometry ----------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(max(sum(self._part_w), 1), max(self._row_h, 1) * 3)

    def minimumSizeHint(self) -> QSize:
        # One row at least; never the whole list, or a large hall would push the screen off 720p.
        return QSize(0, self._row_h)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _index(self, key: Hashable) -> int | None:
        return next((i for i, item in enumerate(self.shown) if item.key == key), None)

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

    def _hint(self, text: str, role: str) -> QSize:
        probe = self._probe(role)
        if probe.text() != text:
            probe.setText(text)
        return probe.sizeHint()

    def _measure(self, items: Sequence[GridItem]) -> None:
        """Column widths per part (widest text of all items, not just one page) and the row height
        (headings included: they take one row each)."""
        widths: list[int] = []
        row_h = 0
        for item in items:
            for i, (text, role) in enumerate(item.parts):
                hint = self._hint(text, role)
                if i == len(widths):
                    widths.append(0)
                widths[i] = max(widths[i], hint.width())
                row_h = max(row_h, hint.height())
        head_h = max(
            (self._hint(it.section, self.heading_role).height() for it in items if it.section), default=0
        )
        if row_h != self._row_h or widths != self._part_w or head_h != self._head_h:
            self._part_w, self._row_h, self._head_h = widths, row_h, head_h
            self.updateGeometry()

    def _item_width(self) -> int:
        return sum(self._part_w) + self.part_gap * max(0, len(self._part_w) - 1)

    def _height(self, items: Sequence[GridItem], cols: int) -> int:
        """Pixels these items take in `cols` columns (each row with the gap below it): a heading
        per section, then its items."""
        step, height, run, section = self._row_h + self.row_gap, 0, 0, None
        for item in items:
            if item.section != section:
                height += math.ceil(run / cols) * step + (self._head_h + self.row_gap if item.section else 0)
                run, section = 0, item.section
            run += 1
        return height + math.ceil(run / cols) * step

    def _paginate(self, items: list[GridItem], cols: int, room: int) -> list[list[int]]:
        """Pages of item indices, filled in order; each leaves room for the pinned item."""
        pin = next((i for i, item in enumerate(items) if item.key == self.pinned), None)
        pages: list[list[int]] = []
        page: list[int] = []
        for i in range(len(items)):
            trial = sorted({*page, i} | ({pin} if pin is not None else set()))
            if page and self._height([items[j] for j in trial], cols) > room:
                pages.append(page)
                page = [i]
            else:
                page.append(i)
        if page:
            pages.append(page)
        if pin is not None:
            pages = [p if pin in p else sorted([*p, pin]) for p in pages]
        return pages or [[]]

    def _relayout(self) -> None:
        """Rows and columns that fit the current size, the pages, then place the page."""
        item_w = self._item_width()
        if not self.items or self._row_h == 0:
            self.shown, self._pages, self.pages, self.page, self.per_page = [], [[]], 1, 0, 0
            self._place()
            return
        max_cols = max(1, (self.width() + self.col_gap) // (item_w + self.col_gap))
        room = self.height() + self.row_gap
        fits = self._height(self.items, max_cols) <= room
        left_out = not fits and any(item.idle for item in self.items)
        if left_out != self.idle_left_out:
            self.idle_left_out = left_out
            self.idle_left_out_changed.emit(left_out)
        self.shown = (
            [it for it in self.items if not it.idle or it.key == self.pinned]
            if self.idle_left_out
            else self.items
        )
        # Depends on the width (and what is shown) only, so an owner may share heights by it.
        wanted = math.ceil(self._height(self.shown, max_cols) / (self._row_h + self.row_gap))
        if wanted != self.rows_wanted:
            self.rows_wanted = wanted
            self.rows_wanted_changed.emit(wanted)
        if item_w > self.width() > 0 and not self._clip_logged:
            self._clip_logged = True
            logger.warning("display grid: an item needs %d px, the column has %d", item_w, self.width())
        if room < self._row_h + self.row_gap or not self.shown:
            # Not laid out yet (or no room, or nothing to show): nothing rather than a spill over the panel.
            self._pages, self.pages, self.page, self.per_page = [[]], 1, 0, 0
            self._place()
            return
        if self._height(self.shown, max_cols) <= room:
            # One page: about square, but never taller than the room.
            self.cols = min(max_cols, math.ceil(math.sqrt(len(self.shown))))
            while self.cols < max_cols and self._height(self.shown, self.cols) > room:
                self.cols += 1
            self._pages = [list(range(len(self.shown)))]
        else:
            self.cols = max_cols
            self._pages = self._paginate(self.shown, max_cols, room)
        self.pages = len(self._pages)
        self.per_page = len(self._pages[0])
        self.page = min(self.page, self.pages - 1)
        self._place()

    def _place(self) -> None:
        """Put the page's headings and items on labels from the pools; hide the rest."""
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
        step = self._row_h + self.row_gap
        y, col, section, heads = 0, 0, None, 0
        for slot, row in enumerate(self._pool):
            item = shown[slot] if slot < len(shown) else None
            if item is not None and item.section != section:
                if col:
                    y, col = y + step, 0
                section = item.section
                if section:
                    while len(self._heads) <= heads:
                        head = label("", self.heading_role)
                        head.setParent(self)
                        self._heads.append(head)
                    box = QRect(0, y, self.width(), self._head_h)
                    _update(self._heads[heads], section, self.heading_role, "", box)
                    heads += 1
                    y += self._head_h + self.row_gap
            for i, lab in enumerate(row):
                if item is None or i >= len(item.parts):
                    if not lab.isHidden():
                        lab.hide()
                    continue
                text, role = item.parts[i]
                x = col * (col_w + self.col_gap) + sum(self._part_w[:i]) + self.part_gap * i
                # The last part takes the rest of its column, so a longer text later is not cut.
                w = self._part_w[i] if i < parts - 1 else col_w - (x - col * (col_w + self.col_gap))
                _update(lab, text, role, item.tooltip, QRect(x, y, w, self._row_h))
            if item is not None:
                col += 1
                if col == cols:
                    y, col = y + step, 0
        for head in self._heads[heads:]:
            if not head.isHidden():
                head.hide()
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
