"""Clerk terminal (窗口叫号终端), one module per concern; `ClerkTerminal` composes them (terminal.py)."""

from kiosk.ui.clerk.calls import CALLING_OPS, TICKET_STEPS
from kiosk.ui.clerk.terminal import ClerkTerminal
from kiosk.ui.clerk.transfer import TransferDialog

__all__ = ["CALLING_OPS", "TICKET_STEPS", "ClerkTerminal", "TransferDialog"]
