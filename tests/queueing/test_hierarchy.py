"""The city's hall hierarchy."""

from __future__ import annotations

import pytest

from queueing.errors import InvalidConfiguration, NotFound
from queueing.hierarchy import ancestors, check_hierarchy, is_in_subtree, subtree
from queueing.model import HallLevel

HALLS = {
    "bz-city": (None, HallLevel.CITY),
    "bz-bz-district": ("bz-city", HallLevel.COUNTY),
    "bz-tj-county": ("bz-city", HallLevel.COUNTY),
    "tj-nuojiang": ("bz-tj-county", HallLevel.TOWNSHIP),
    "tj-nj-village1": ("tj-nuojiang", HallLevel.VILLAGE),
    "bz-dongcheng": ("bz-bz-district", HallLevel.TOWNSHIP),
}
PARENTS = {h: p for h, (p, _) in HALLS.items()}


def test_subtree_membership() -> None:
    assert is_in_subtree("tj-nj-village1", "bz-city", PARENTS)
    assert is_in_subtree("tj-nj-village1", "bz-tj-county", PARENTS)
    assert is_in_subtree("bz-tj-county", "bz-tj-county", PARENTS)
    assert not is_in_subtree("bz-dongcheng", "bz-tj-county", PARENTS)
    assert not is_in_subtree("bz-city", "tj-nuojiang", PARENTS)
    assert not is_in_subtree("nowhere", "bz-city", PARENTS)
    assert subtree("bz-tj-county", PARENTS) == ["bz-tj-county", "tj-nj-village1", "tj-nuojiang"]
    assert ancestors("tj-nj-village1", PARENTS) == ["tj-nuojiang", "bz-tj-county", "bz-city"]


def test_hierarchy_checks() -> None:
    check_hierarchy(HALLS)
    with pytest.raises(InvalidConfiguration) as err:
        check_hierarchy({**HALLS, "x": ("tj-nj-village1", HallLevel.TOWNSHIP)})
    assert err.value.code == "hall.bad_level"
    with pytest.raises(InvalidConfiguration) as err:
        check_hierarchy({**HALLS, "x": ("ghost", HallLevel.VILLAGE)})
    assert err.value.code == "hall.unknown_parent"
    with pytest.raises(NotFound):
        ancestors("ghost", PARENTS)


def test_cycles_are_detected_not_looped_forever() -> None:
    cyclic = {"a": "b", "b": "c", "c": "a"}
    with pytest.raises(InvalidConfiguration) as err:
        is_in_subtree("a", "z", cyclic)
    assert err.value.code == "hall.cycle"
