"""Constants of the printers package: paper geometry, ESC/POS status bits, fonts, timeouts."""

from __future__ import annotations

# Printable dots across the paper at 203 dpi: 58 mm rolls print 48 mm, 80 mm rolls 72 mm.
DOTS_BY_WIDTH_MM: dict[int, int] = {58: 384, 80: 576}

# Whole paper width in dots (the PNG of a virtual page shows the unprinted margins too).
PAPER_DOTS_BY_WIDTH_MM: dict[int, int] = {58: 464, 80: 640}
PAGE_TOP_MARGIN = 16

# Font A of almost every ESC/POS printer: 12x24 dots per half-width cell, 24x24 per CJK cell.
CELL_W = 12
CELL_H = 24
# Default line feed (ESC 2): 1/6 inch, about 30 dots at 180 dpi units.
DEFAULT_LINE_SPACING = 30

# QR module size in dots for ticket QR codes (python-escpos `size`).
QR_BOX_DOTS = {58: 6, 80: 8}

# ESC/POS real-time status requests (DLE EOT n) and their bits.
DLE_EOT = b"\x10\x04"
STATUS_FIXED = 0x12  # bits 1 and 4 are always 1 in every DLE EOT answer
ST1_OFFLINE = 0x08  # n=1: printer status, offline
ST1_DRAWER = 0x04  # n=1: drawer kick-out connector pin 3 high
ST2_COVER_OPEN = 0x04  # n=2: offline cause, cover open
ST2_FEED_BUTTON = 0x08  # n=2: paper being fed by the feed button
ST2_PAPER_END_STOP = 0x20  # n=2: printing stopped because of paper end
ST2_ERROR = 0x40  # n=2: an error occurred
ST3_AUTOCUTTER = 0x08  # n=3: auto-cutter error
ST3_UNRECOVERABLE = 0x20  # n=3: unrecoverable error
ST4_NEAR_END = 0x0C  # n=4: roll paper near-end sensor
ST4_PAPER_END = 0x60  # n=4: roll paper end sensor

# How long a status request waits for an answer before declaring the printer silent.
STATUS_TIMEOUT_S = 1.0
# How long connecting to a network printer may take before it is declared offline.
CONNECT_TIMEOUT_S = 3.0
# Socket write timeout while sending a ticket.
SEND_TIMEOUT_S = 10.0
# CUPS queues: how long one lp/lpstat/cancel command may take, how often a job is polled, and
# how long a job may take to leave the queue once the printer is connected (a ticket is < 100 KB).
CUPS_COMMAND_TIMEOUT_S = 10.0
CUPS_POLL_S = 0.1
CUPS_JOB_SEND_S = 10.0

DEFAULT_NETWORK_PORT = 9100

# CJK font lookup: fontconfig names first, then the files Debian's packages install.
FONT_FAMILIES = ("Noto Sans CJK SC", "WenQuanYi Zen Hei", "Noto Serif CJK SC")
FONT_FILES_REGULAR = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
)
FONT_FILES_BOLD = (("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),)

# The line every ticket carries about missed numbers (the hall may add its own notes).
MISSED_NUMBER_RULE_ZH = "过号无效，请您重新取号"
MISSED_NUMBER_RULE_EN = "Missed numbers are void; please take a new one."
