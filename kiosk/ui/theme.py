"""Fonts and the high-contrast style sheet, scaled for a 1080p touch screen and for elderly mode."""

from __future__ import annotations

import logging

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

from kiosk import const

logger = logging.getLogger(__name__)

# The scale the application was themed with (screens smaller or larger than the 1080p design).
_base_scale = 1.0


def base_scale() -> float:
    """The scale passed to apply_theme (elderly mode multiplies it)."""
    return _base_scale


def cjk_family() -> str:
    """The first installed family of FONT_FAMILIES (explicit, so Chinese never falls back to boxes)."""
    installed = set(QFontDatabase.families())
    for fam in const.FONT_FAMILIES:
        if fam in installed:
            return fam
    logger.warning("no CJK font found; install fonts-noto-cjk")
    return const.FONT_FAMILIES[-1]


def fit_scale(width: int, height: int) -> float:
    """The UI scale that fits the 1080p design into a width x height screen (0.5 .. 2.0)."""
    return max(0.5, min(2.0, width / const.DESIGN_WIDTH, height / const.DESIGN_HEIGHT))


def apply_theme(app: QApplication, scale: float = 1.0) -> str:
    """Set the application font and style sheet; returns the family used."""
    global _base_scale
    _base_scale = scale
    fam = cjk_family()
    font = QFont(fam)
    font.setFamilies([fam, *[f for f in const.FONT_FAMILIES if f != fam]])
    font.setPixelSize(round(26 * scale))
    app.setFont(font)
    app.setStyleSheet(stylesheet(scale, fam))
    return fam


def px(value: float, scale: float) -> int:
    """A scaled pixel size."""
    return max(1, round(value * scale))


def sc(value: float) -> int:
    """A layout metric of the 1080p design (margin, spacing, fixed size) at the themed scale.

    Fonts alone shrinking on a 720p screen is not enough: fixed margins and spacings then add up
    to a screen taller than the display.
    """
    return px(value, _base_scale)


def stylesheet(scale: float, family: str) -> str:
    """The light kiosk style; the display role adds its own dark sheet on top."""
    s = scale
    return f"""
* {{ font-family: "{family}"; color: {const.COLOR_TEXT}; }}
QWidget#root {{ background: {const.COLOR_BG}; }}
QLabel {{ font-size: {px(26, s)}px; }}
QLabel[role="title"] {{ font-size: {px(44, s)}px; font-weight: bold; color: {const.COLOR_PRIMARY_DARK}; }}
QLabel[role="subtitle"] {{ font-size: {px(30, s)}px; color: {const.COLOR_MUTED}; }}
QLabel[role="en"] {{ font-size: {px(20, s)}px; color: {const.COLOR_MUTED}; }}
QLabel[role="number"] {{ font-size: {px(110, s)}px; font-weight: bold; color: {const.COLOR_PRIMARY}; }}
QLabel[role="huge"] {{ font-size: {px(150, s)}px; font-weight: bold; color: {const.COLOR_PRIMARY}; }}
QLabel[role="big"] {{ font-size: {px(40, s)}px; font-weight: bold; }}
QLabel[role="error"] {{ font-size: {px(28, s)}px; color: {const.COLOR_WARN_TEXT}; background: {const.COLOR_WARN_BG};
  border: 2px solid #d39e00; border-radius: {px(10, s)}px; padding: {px(14, s)}px; }}
QLabel[role="ok"] {{ font-size: {px(28, s)}px; color: #ffffff; background: {const.COLOR_GREEN};
  border-radius: {px(10, s)}px; padding: {px(14, s)}px; }}
QLabel#message-line {{ padding: {px(6, s)}px {px(14, s)}px; }}
QLabel[role="offline"] {{ font-size: {px(24, s)}px; color: #ffffff; background: {const.COLOR_ACCENT};
  padding: {px(8, s)}px {px(16, s)}px; border-radius: {px(8, s)}px; font-weight: bold; }}
QLabel[role="online"] {{ font-size: {px(20, s)}px; color: #ffffff; background: {const.COLOR_GREEN};
  padding: {px(6, s)}px {px(14, s)}px; border-radius: {px(8, s)}px; }}
QFrame#header {{ background: {const.COLOR_PRIMARY}; }}
QFrame#header QLabel {{ color: #ffffff; }}
QFrame#header QLabel[role="title"] {{ color: #ffffff; }}
QFrame#card {{ background: #ffffff; border: 2px solid #c9d3df; border-radius: {px(16, s)}px; }}
QPushButton {{ font-size: {px(30, s)}px; min-height: {px(84, s)}px; padding: {px(8, s)}px {px(22, s)}px;
  background: #ffffff; color: {const.COLOR_PRIMARY_DARK}; border: 3px solid {const.COLOR_PRIMARY};
  border-radius: {px(14, s)}px; }}
QPushButton:pressed {{ background: #dbe7f5; }}
QPushButton:disabled {{ color: #6b6b6b; border-color: #9aa5b1; background: #e7e9ec; }}
QPushButton[role="primary"] {{ background: {const.COLOR_PRIMARY}; color: #ffffff; font-weight: bold; }}
QPushButton[role="primary"]:disabled {{ background: #8aa3c2; color: #f0f0f0; }}
QPushButton[role="danger"] {{ background: {const.COLOR_ACCENT}; color: #ffffff; border-color: {const.COLOR_ACCENT}; }}
QPushButton[role="category"] {{ text-align: left; font-size: {px(30, s)}px; min-height: {px(90, s)}px; }}
QPushButton[role="category"]:checked {{ background: {const.COLOR_PRIMARY}; color: #ffffff; }}
QPushButton[role="service"] {{ font-size: {px(32, s)}px; min-height: {px(130, s)}px; text-align: center;
  font-weight: bold; }}
QPushButton[role="header"] {{ background: transparent; color: #ffffff; border: 2px solid #ffffff;
  min-height: {px(60, s)}px; font-size: {px(26, s)}px; }}
QPushButton[role="header"]:checked {{ background: #ffffff; color: {const.COLOR_PRIMARY_DARK}; }}
QToolButton[role="level"] {{ font-size: {px(34, s)}px; font-weight: bold; color: #ffffff; border: none;
  border-radius: {px(20, s)}px; padding: {px(16, s)}px; }}
QToolButton[role="level"]:disabled {{ background: #9aa5b1; }}
QPushButton[role="reason"] {{ font-size: {px(34, s)}px; font-weight: bold; min-height: {px(76, s)}px; }}
QPushButton[role="reason-detail"] {{ font-size: {px(26, s)}px; min-height: {px(56, s)}px; }}
QPushButton[role="reason"]:checked, QPushButton[role="reason-detail"]:checked {{
  background: {const.COLOR_ACCENT}; color: #ffffff; border-color: {const.COLOR_ACCENT}; }}
QPushButton[role="key"] {{ font-size: {px(40, s)}px; min-width: {px(96, s)}px; min-height: {px(90, s)}px;
  padding: {px(8, s)}px {px(8, s)}px; }}
QPushButton[role="kbd"] {{ font-size: {px(34, s)}px; min-width: {px(84, s)}px; min-height: {px(72, s)}px;
  padding: {px(4, s)}px {px(8, s)}px; }}
QPushButton[role="nav"] {{ font-size: {px(28, s)}px; min-height: {px(48, s)}px; padding: {px(2, s)}px {px(16, s)}px;
  font-weight: bold; }}
QPushButton[role="nav"]:checked {{ background: {const.COLOR_PRIMARY}; color: #ffffff; }}
QPushButton[role="page"] {{ font-size: {px(28, s)}px; min-width: {px(130, s)}px; font-weight: bold; }}
QLabel[role="countdown"] {{ font-size: {px(34, s)}px; font-weight: bold; color: {const.COLOR_ACCENT}; }}
QLabel[role="where"] {{ font-size: {px(44, s)}px; font-weight: bold; color: {const.COLOR_PRIMARY_DARK}; }}
QLineEdit, QComboBox, QSpinBox {{ font-size: {px(30, s)}px; min-height: {px(72, s)}px; padding: 0 {px(14, s)}px;
  border: 3px solid {const.COLOR_PRIMARY}; border-radius: {px(12, s)}px; background: #ffffff; }}
QTextEdit {{ font-size: {px(26, s)}px; border: 3px solid {const.COLOR_PRIMARY}; border-radius: {px(12, s)}px;
  background: #ffffff; }}
QCheckBox {{ font-size: {px(32, s)}px; spacing: {px(16, s)}px; min-height: {px(70, s)}px; }}
QCheckBox::indicator {{ width: {px(44, s)}px; height: {px(44, s)}px; }}
QTableWidget, QListWidget {{ font-size: {px(26, s)}px; background: #ffffff; border: 2px solid #c9d3df;
  gridline-color: #e1e6ec; }}
QHeaderView::section {{ font-size: {px(22, s)}px; background: #e5ecf5; padding: {px(6, s)}px; border: none;
  font-weight: bold; }}
QTabBar::tab {{ font-size: {px(28, s)}px; min-height: {px(64, s)}px; padding: 0 {px(36, s)}px; }}
QTabBar::tab:selected {{ background: {const.COLOR_PRIMARY}; color: #ffffff; }}
QScrollBar:vertical {{ width: {px(28, s)}px; }}
QPushButton:focus, QToolButton:focus, QCheckBox:focus {{ outline: none; }}
QPushButton:focus, QLineEdit:focus, QComboBox:focus, QTextEdit:focus {{ border-color: {const.COLOR_FOCUS}; }}
QToolButton:focus {{ border: {px(6, s)}px solid {const.COLOR_FOCUS}; }}
QCheckBox:focus {{ color: {const.COLOR_PRIMARY_DARK}; text-decoration: underline; }}
"""


def display_stylesheet(scale: float) -> str:
    """The dark, far-readable hall display style."""
    s = scale
    return f"""
QWidget#display {{ background: {const.COLOR_DISPLAY_BG}; }}
QWidget#display QLabel {{ color: {const.COLOR_DISPLAY_TEXT}; font-size: {px(34, s)}px; }}
QWidget#display QLabel[role="title"] {{ font-size: {px(52, s)}px; font-weight: bold; color: #ffffff; }}
QWidget#display QLabel[role="call"] {{ font-size: {px(96, s)}px; font-weight: bold; color: {const.COLOR_DISPLAY_HIGHLIGHT}; }}
QWidget#display QLabel[role="callsub"] {{ font-size: {px(44, s)}px; color: #ffffff; }}
QWidget#display QLabel[role="section"] {{ font-size: {px(36, s)}px; font-weight: bold; color: #9fd3ff; }}
QWidget#display QLabel[role="cell"] {{ font-size: {px(38, s)}px; }}
QWidget#display QLabel[role="cellnum"] {{ font-size: {px(42, s)}px; font-weight: bold; color: {const.COLOR_DISPLAY_HIGHLIGHT}; }}
QWidget#display QLabel[role="tile"] {{ font-size: {px(28, s)}px; padding: {px(2, s)}px {px(6, s)}px; }}
QWidget#display QLabel[role="tilebusy"] {{ font-size: {px(28, s)}px; font-weight: bold; color: {const.COLOR_DISPLAY_HIGHLIGHT};
  padding: {px(2, s)}px {px(6, s)}px; }}
QWidget#display QLabel[role="notice"] {{ font-size: {px(32, s)}px; color: #ffffff; background: #0d2c57;
  padding: {px(10, s)}px; }}
QWidget#display QLabel[role="error"] {{ color: {const.COLOR_WARN_TEXT}; font-size: {px(26, s)}px; }}
QWidget#display QFrame#panel {{ background: #0b2447; border: 2px solid #1d4f91; border-radius: {px(14, s)}px; }}
"""
