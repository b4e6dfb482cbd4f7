"""The city's hall hierarchy (city > county > township > village) as a parent map."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from .errors import InvalidConfiguration, NotFound
from .model import HallLevel

logger = logging.getLogger(__name__)

ParentMap = Mapping[str, str | None]


def ancestors(hall_id: str, parents: ParentMap) -> list[str]:
    """The chain above a hall, nearest first; raises on unknown halls and cycles."""
    if hall_id not in parents:
        raise NotFound("hall.not_found", f"大厅“{hall_id}”不存在", f"hall {hall_id!r} does not exist")
    chain: list[str] = []
    seen = {hall_id}
    current = parents[hall_id]
    while current is not None:
        if current in seen:
            raise InvalidConfiguration(
                "hall.cycle",
                f"大厅层级存在循环：{hall_id}",
                f"the hall hierarchy has a cycle through {hall_id!r}",
            )
        seen.add(current)
        chain.append(current)
        current = parents.get(current)
    return chain


def is_in_subtree(hall_id: str, root_id: str, parents: ParentMap) -> bool:
    """True when `hall_id` is `root_id` or lies below it (a manager of root may see it)."""
    if hall_id == root_id:
        return hall_id in parents
    if hall_id not in parents:
        return False
    return root_id in ancestors(hall_id, parents)


def subtree(root_id: str, parents: ParentMap) -> list[str]:
    """Every hall in the subtree of `root_id`, root first, the rest sorted by id."""
    return [root_id, *sorted(h for h in parents if h != root_id and is_in_subtree(h, root_id, parents))]


def check_hierarchy(halls: Mapping[str, tuple[str | None, HallLevel]]) -> None:
    """Validate (parent, level) per hall: parents exist, levels go strictly down, no cycles."""
    parents = {h: p for h, (p, _) in halls.items()}
    for hall_id, (parent, level) in halls.items():
        level = HallLevel(level)
        if parent is None:
            continue
        if parent not in halls:
            raise InvalidConfiguration(
                "hall.unknown_parent",
                f"大厅“{hall_id}”的上级“{parent}”不存在",
                f"the parent {parent!r} of hall {hall_id!r} does not exist",
            )
        parent_level = HallLevel(halls[parent][1])
        if parent_level.depth >= level.depth:
            raise InvalidConfiguration(
                "hall.bad_level",
                f"大厅“{hall_id}”（{level.label_zh}）不能隶属于“{parent}”（{parent_level.label_zh}）",
                f"hall {hall_id!r} ({level.value}) cannot sit under {parent!r} ({parent_level.value})",
            )
        ancestors(hall_id, parents)
