"""Service search as a visitor types it: name words, pinyin initials ("bdc" → 不动产…) and synonyms (社保).

No pinyin library: the 3,755 common characters (GB2312 level 1) are ordered by pinyin, so a character's
place in GB2312 gives its initial; the few characters that place gets wrong (polyphones such as 行 in
"行政", rarer characters) and the synonyms visitors use are data, in assets/search_terms.json.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TERMS_FILE = Path(__file__).resolve().parent.parent / "assets" / "search_terms.json"

# The first GB2312 code (high byte * 256 + low byte) of each initial in level 1 (sorted by pinyin);
# no syllable starts with i, u or v.
_GB_STARTS = (
    (0xB0A1, "a"), (0xB0C5, "b"), (0xB2C1, "c"), (0xB4EE, "d"), (0xB6EA, "e"), (0xB7A2, "f"),
    (0xB8C1, "g"), (0xB9FE, "h"), (0xBBF7, "j"), (0xBFA6, "k"), (0xC0AC, "l"), (0xC2E8, "m"),
    (0xC4C3, "n"), (0xC5B6, "o"), (0xC5BE, "p"), (0xC6DA, "q"), (0xC8BB, "r"), (0xC8F6, "s"),
    (0xCBFA, "t"), (0xCDDA, "w"), (0xCEF4, "x"), (0xD1B9, "y"), (0xD4D1, "z"),
)  # fmt: skip
_GB_CODES = [code for code, _ in _GB_STARTS]
_GB_LEVEL1_END = 0xD7F9


@lru_cache(maxsize=1)
def search_terms() -> dict[str, Any]:
    """The synonyms, initial overrides and name words (none when the file is missing)."""
    try:
        data = json.loads(TERMS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.warning("search terms %s not readable: no synonyms", TERMS_FILE)
        return {"synonyms": {}, "initials": {}, "words": []}
    return {key: data.get(key, empty) for key, empty in (("synonyms", {}), ("initials", {}), ("words", []))}


def initial_of(ch: str) -> str:
    """The pinyin initial of one character, a letter or digit itself; '' when unknown."""
    if ch.isascii():
        return ch.lower() if ch.isalnum() else ""
    override = search_terms()["initials"].get(ch)
    if override:
        return str(override)
    try:
        raw = ch.encode("gb2312")
    except UnicodeEncodeError:
        return ""
    if len(raw) != 2:
        return ""
    code = raw[0] * 256 + raw[1]
    if code < _GB_CODES[0] or code >= _GB_LEVEL1_END:
        return ""  # punctuation, or level 2 (ordered by radical, not by pinyin)
    return _GB_STARTS[bisect.bisect_right(_GB_CODES, code) - 1][1]


def initials(text: str) -> str:
    """Pinyin initials of a text: '不动产首次登记' → 'bdcscdj' (other characters dropped)."""
    return "".join(initial_of(ch) for ch in text)


def expand(query: str) -> list[str]:
    """The query and, if it is a synonym people use (社保), the name words it stands for."""
    q = query.strip()
    words = [q]
    for term, meant in search_terms()["synonyms"].items():
        if term in q or (len(q) >= 2 and q in term):
            words.extend(meant)
    return words


def matches(query: str, names: Iterable[str | None], others: Iterable[str | None] = ()) -> bool:
    """Whether a service fits the query: its names (name, sub-name) by words, synonyms or pinyin
    initials; its other texts (code, category, department) by words and synonyms only, so that "bdc"
    lists the 不动产… services and not every service of the 不动产登记 category."""
    q = query.strip().lower()
    if not q:
        return True
    named = [f for f in names if f]
    hay = " ".join(named + [f for f in others if f]).lower()
    if any(word.lower() in hay for word in expand(q)):
        return True
    if q.isascii() and q.isalpha():
        return any(q in initials(t) for t in named)
    return False
