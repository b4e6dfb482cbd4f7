"""A virtual network receipt printer that renders ESC/POS to PNG, for tests and newcomers."""

from __future__ import annotations

from printers.virtual.model import Page
from printers.virtual.parser import EscPosParser
from printers.virtual.server import VirtualPrinter

__all__ = ["EscPosParser", "Page", "VirtualPrinter"]
