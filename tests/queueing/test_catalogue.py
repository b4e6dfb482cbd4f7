"""The city catalogue and the halls' claims."""

from __future__ import annotations

import pytest

from queueing.catalogue import check_claims, claim_map, search_items
from queueing.errors import InvalidConfiguration, NotFound
from queueing.model import QueueGroup, ServiceGuide, ServiceItem


def item(code: str, name: str, category: str, dept: str, sub: str = "") -> ServiceItem:
    return ServiceItem(code, name, category, dept, ServiceGuide(main_item=name, sub_item=sub), name_en="")


CATALOGUE = {
    i.code: i
    for i in (
        item(
            "BDC-001",
            "不动产首次登记",
            "不动产",
            "自然资源和规划局",
            "国有建设用地使用权及房屋所有权首次登记",
        ),
        item("BDC-002", "不动产转移登记", "不动产", "自然资源和规划局", "二手房转移登记"),
        item("SB-001", "城乡居民养老保险参保登记", "社会保障", "人力资源和社会保障局"),
        item("GA-001", "居民身份证申领", "户籍", "公安局"),
    )
}


def test_claims_map_items_to_one_group_each() -> None:
    groups = [
        QueueGroup("bz-city", "A", "不动产", {"BDC-001", "BDC-002"}),
        QueueGroup("bz-city", "B", "社保", {"SB-001"}),
    ]
    assert check_claims(CATALOGUE, groups) == {"BDC-001": "A", "BDC-002": "A", "SB-001": "B"}


def test_an_item_in_two_groups_or_a_repeated_prefix_is_refused() -> None:
    with pytest.raises(InvalidConfiguration) as err:
        claim_map([QueueGroup("h", "A", "x", {"BDC-001"}), QueueGroup("h", "B", "y", {"BDC-001"})])
    assert err.value.code == "group.item_in_two_groups" and "BDC-001" in err.value.message_zh
    with pytest.raises(InvalidConfiguration) as err:
        claim_map([QueueGroup("h", "A", "x", {"BDC-001"}), QueueGroup("h", "A", "y", {"SB-001"})])
    assert err.value.code == "group.duplicate_prefix"


def test_items_outside_the_city_catalogue_are_named() -> None:
    with pytest.raises(NotFound) as err:
        check_claims(CATALOGUE, [QueueGroup("h", "A", "x", {"BDC-001", "XX-9", "YY-1"})])
    assert err.value.detail["service_codes"] == ["XX-9", "YY-1"]


def test_search_by_name_sub_item_department_and_code() -> None:
    items = list(CATALOGUE.values())
    assert [i.code for i in search_items(items, "不动产")] == ["BDC-001", "BDC-002"]
    assert [i.code for i in search_items(items, "二手房")] == ["BDC-002"]
    assert [i.code for i in search_items(items, "公安")] == ["GA-001"]
    assert [i.code for i in search_items(items, "sb-001")] == ["SB-001"]
    assert [i.code for i in search_items(items, "登记 养老")] == ["SB-001"]
    assert search_items(items, "没有这个") == []
    assert len(search_items(items, "  ")) == 4
