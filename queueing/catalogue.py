"""The city's service catalogue (一库汇聚): halls claim items and map them to their queue groups."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from .errors import InvalidConfiguration, NotFound
from .model import QueueGroup, ServiceItem

logger = logging.getLogger(__name__)


def claim_map(groups: Iterable[QueueGroup]) -> dict[str, str]:
    """Service code -> prefix for one hall; an item may sit in only one of the hall's groups."""
    out: dict[str, str] = {}
    prefixes: set[str] = set()
    for group in groups:
        if group.prefix in prefixes:
            raise InvalidConfiguration(
                "group.duplicate_prefix",
                f"队列前缀“{group.prefix}”在本大厅重复",
                f"queue prefix {group.prefix} is used twice in this hall",
                prefix=group.prefix,
            )
        prefixes.add(group.prefix)
        for code in sorted(group.service_codes):
            if code in out:
                raise InvalidConfiguration(
                    "group.item_in_two_groups",
                    f"事项“{code}”同时属于队列{out[code]}和{group.prefix}",
                    f"service {code} is in both queue {out[code]} and queue {group.prefix}",
                    service_code=code,
                )
            out[code] = group.prefix
    return out


def check_claims(catalogue: Mapping[str, ServiceItem], groups: Iterable[QueueGroup]) -> dict[str, str]:
    """Validate a hall's groups against the city catalogue; return service code -> prefix."""
    claims = claim_map(groups)
    unknown = sorted(code for code in claims if code not in catalogue)
    if unknown:
        raise NotFound(
            "service.not_in_catalogue",
            f"以下事项不在全市事项库中：{'、'.join(unknown)}",
            f"these services are not in the city catalogue: {', '.join(unknown)}",
            service_codes=unknown,
        )
    return claims


def _fields(item: ServiceItem) -> tuple[str, ...]:
    g = item.guide
    return (item.code, item.name, item.name_en, item.category, item.department, g.main_item, g.sub_item)


def search_items(items: Iterable[ServiceItem], query: str) -> list[ServiceItem]:
    """Items matching every word of `query` (any field, case-insensitive); best name matches first."""
    words = [w.casefold() for w in (query or "").split()]
    ranked: list[tuple[int, str, str, ServiceItem]] = []
    for item in items:
        haystack = " ".join(_fields(item)).casefold()
        if not all(w in haystack for w in words):
            continue
        name = item.name.casefold()
        if not words or name.startswith(words[0]) or item.code.casefold() == words[0]:
            rank = 0
        elif all(w in name for w in words):
            rank = 1
        else:
            rank = 2
        ranked.append((rank, item.category, item.code, item))
    ranked.sort(key=lambda r: r[:3])
    return [r[3] for r in ranked]
