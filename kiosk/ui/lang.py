"""The visitor screens' language: Chinese only by default, English when the visitor taps 中/EN.

One `Texts` per kiosk (kept in the context's extras, so the guide and lookup pages share it): a
widget bound to a (zh, en) pair shows the one of the chosen language and follows every switch.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

logger = logging.getLogger(__name__)

W = TypeVar("W", bound=QWidget)

TEXTS_KEY = "visitor_texts"


class Texts(QObject):
    """The chosen language (zh_CN unless switched) and the widgets whose words follow it."""

    changed = Signal(bool)  # True: English now

    def __init__(self) -> None:
        super().__init__()
        self.english = False
        self._bound: list[tuple[weakref.ref[QWidget], str, str, str]] = []

    def pick(self, zh: str, en: str) -> str:
        """The words of the chosen language."""
        return en if self.english else zh

    def bind(self, widget: W, zh: str, en: str, prop: str = "text") -> W:
        """Show zh or en on widget (its text, or its placeholderText) now and after every switch."""
        self._bound.append((weakref.ref(widget), zh, en, prop))
        self._apply(widget, zh, en, prop)
        return widget

    def set_english(self, on: bool) -> None:
        """Switch every bound widget; `changed` lets the screens redo the words they compose."""
        if on == self.english:
            return
        self.english = on
        alive = []
        for ref, zh, en, prop in self._bound:
            widget = ref()
            if widget is None:
                continue
            try:
                self._apply(widget, zh, en, prop)
            except RuntimeError:  # its C++ side was deleted (a page rebuilt)
                continue
            alive.append((ref, zh, en, prop))
        self._bound = alive
        logger.info("visitor screens in %s", "English" if on else "Chinese")
        self.changed.emit(on)

    def _apply(self, widget: Any, zh: str, en: str, prop: str) -> None:
        text = self.pick(zh, en)
        if prop == "placeholder":
            widget.setPlaceholderText(text)
        else:
            widget.setText(text)


def texts_of(extras: dict[str, Any]) -> Texts:
    """The kiosk's one Texts (made on first use)."""
    texts = extras.get(TEXTS_KEY)
    if texts is None:
        texts = extras[TEXTS_KEY] = Texts()
    return texts
