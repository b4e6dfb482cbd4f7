"""The keyboard and keypad path through a touch screen: Tab in reading order, Enter or Space presses.

Touch and clicks give a button no focus (Qt.TabFocus), so a visitor who only touches never sees a
focus frame; a keyboard or a keypad (Tab, the arrows, Enter) reaches every control in the order it
is read: the order of the screen's layouts, top to bottom, left to right, whatever the order in
which the widgets were made (the service tiles are made long after the buttons below them).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractButton, QApplication, QLayout, QScrollArea, QWidget

logger = logging.getLogger(__name__)

ACTIVATE_KEYS = frozenset({Qt.Key.Key_Return, Qt.Key.Key_Enter})
# A keypad with Num Lock off sends arrows: down / right go on, up / left go back (like Tab, Shift+Tab).
NEXT_KEYS = frozenset({Qt.Key.Key_Down, Qt.Key.Key_Right})
PREV_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Left})
FOCUS_ROOT = "focusRoot"  # the property that marks a role screen: Tab goes round inside it


def tabbable(w: QWidget) -> bool:
    """Whether Tab may stop on the widget now: shown, enabled and taking focus from the keyboard."""
    return (
        w.isVisible()
        and w.isEnabled()
        and bool(w.focusPolicy() & Qt.FocusPolicy.TabFocus)
        and w.focusProxy() is None
    )


def reading_order(root: QWidget) -> list[QWidget]:
    """The widgets Tab stops on under root, in the order of the layouts (reading order)."""
    out: list[QWidget] = []
    seen: set[int] = set()

    def visit_layout(lay: QLayout) -> None:
        for i in range(lay.count()):
            item = lay.itemAt(i)
            if item is None:
                continue
            if item.widget() is not None:
                visit(item.widget())
            elif item.layout() is not None:
                visit_layout(item.layout())

    def visit(w: QWidget) -> None:
        if id(w) in seen or not w.isVisible():
            return
        seen.add(id(w))
        if isinstance(w, QScrollArea):  # a list of controls: Tab stops on them, not on the list
            inner = w.widget()
            if inner is not None:
                visit(inner)
            return
        if w is not root and tabbable(w):
            out.append(w)  # a control's own parts (a table's viewport, a combo's view) are its own
            return
        if w.layout() is not None:
            visit_layout(w.layout())
        # Children outside any layout (a tab widget's bar and pages), in the order they were made.
        for child in w.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if not child.isWindow():
                visit(child)

    visit(root)
    return out


def move_focus(root: QWidget, forward: bool) -> bool:
    """Focus the next (or previous) control after root's current one, wrapping around."""
    order = reading_order(root)
    if not order:
        return False
    current = root.focusWidget()
    if current in order:
        i = order.index(current)
        target = order[(i + (1 if forward else -1)) % len(order)]
    else:
        target = order[0] if forward else order[-1]
    reason = Qt.FocusReason.TabFocusReason if forward else Qt.FocusReason.BacktabFocusReason
    target.setFocus(reason)
    # A control in a touch list comes into view, as a swipe would bring it.
    parent = target.parentWidget()
    while parent is not None and parent is not root:
        if isinstance(parent, QScrollArea):
            parent.ensureWidgetVisible(target)
        parent = parent.parentWidget()
    return True


class KeyActivation(QObject):
    """Application-wide: Enter presses the focused button; on a button the arrows move like Tab."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(obj, QAbstractButton):
            return False
        if not isinstance(event, QKeyEvent) or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        key = event.key()
        if key in ACTIVATE_KEYS:
            if obj.isEnabled():
                obj.click()
            return True
        if key in NEXT_KEYS or key in PREV_KEYS:
            return move_focus(focus_root(obj), key in NEXT_KEYS)
        return False


def focus_root(w: QWidget) -> QWidget:
    """The outermost screen a widget belongs to (a village station holds three): its window if none."""
    root: QWidget | None = None
    p: QWidget | None = w
    while p is not None:
        if p.property(FOCUS_ROOT):
            root = p
        p = p.parentWidget()
    return root or w.window()


_activation: KeyActivation | None = None


def install_key_activation() -> None:
    """Install the Enter / arrow handling once for the application."""
    global _activation
    app = QApplication.instance()
    if _activation is None and app is not None:
        _activation = KeyActivation()
        app.installEventFilter(_activation)
