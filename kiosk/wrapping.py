"""Line breaks in service names at word boundaries ("城乡居民基本医疗保险 / 参保登记", never "…基本医 / 疗保险…").

Chinese has no spaces, and Qt breaks between any two characters; the words service names are made of
are data (assets/search_terms.json "words"), and a break goes before one of them or after a 、.
"""

from __future__ import annotations

import logging

from kiosk.search import search_terms

logger = logging.getLogger(__name__)

BREAK_AFTER = "、，,/（(与及和"


def _breaks(text: str) -> set[int]:
    """Positions (1..len-1) where a line may break."""
    words = search_terms().get("words", [])
    out: set[int] = set()
    inside: set[int] = set()  # 养老保险 starts a word, but not inside 基本养老保险
    for i in range(len(text)):
        for w in words:
            if text.startswith(w, i):
                out.add(i)
                inside.update(range(i + 1, i + len(w)))
        if i and text[i - 1] in BREAK_AFTER:
            out.add(i)
    return {b for b in out - inside if 0 < b < len(text)}


def wrap_name(text: str, width: int) -> str:
    """Break a name into lines of at most `width` characters, at word boundaries where it can, with
    lines of about equal length (a QPushButton does not wrap by itself)."""
    if len(text) <= width:
        return text
    breaks = _breaks(text)
    lines = []
    start = 0
    while len(text) - start > width:
        left = len(text) - start
        count = -(-left // width)  # lines still needed
        target = start + -(-left // count)
        fits = [b for b in breaks if start < b <= start + width]
        # Nearest to the balanced length; on a tie the later one (a shorter rest).
        cut = min(fits, key=lambda b: (abs(b - target), -b)) if fits else start + width
        lines.append(text[start:cut])
        start = cut
    lines.append(text[start:])
    return "\n".join(lines)
