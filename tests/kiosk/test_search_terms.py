"""Kiosk search by pinyin initials and synonyms, where to go, and service names wrapped at word boundaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.search import initials, matches
from kiosk.wayfinding import where_to_go
from kiosk.wrapping import wrap_name
from wire import HallDetailOut
from wire.halls import HallWindow

CITY = json.loads((Path(__file__).resolve().parents[2] / "assets" / "demo_city.json").read_text("utf-8"))
NAMES = [s["name"] for s in CITY["services"]]


def found(query: str) -> list[str]:
    return [n for n in NAMES if matches(query, (n,))]


@pytest.mark.parametrize(
    ("name", "letters"),
    [("不动产首次登记", "bdcscdj"), ("往来港澳通行证及签注", "wlgatxzjqz"), ("住房公积金提取", "zfgjjtq")],
)
def test_initials_of_service_names(name: str, letters: str) -> None:
    assert initials(name) == letters


def test_pinyin_initials_find_the_services_that_start_so() -> None:
    assert found("bdc") == [
        "不动产首次登记",
        "不动产转移登记",
        "不动产登记资料查询",
        "不动产权证书补证、换证",
    ]
    assert found("gjj") == ["住房公积金提取", "住房公积金个人住房贷款"]
    assert found("xyz") == []


def test_synonyms_people_use_find_the_services() -> None:
    assert {"社会保障卡申领", "失业保险金申领", "城乡居民基本养老保险参保登记"} <= set(found("社保"))
    assert set(found("营业执照")) == {"企业设立登记", "个体工商户设立登记", "企业变更登记", "企业注销登记"}
    assert found("驾照") == ["机动车驾驶证换证"]


@pytest.mark.parametrize(
    ("name", "width", "lines"),
    [
        ("城乡居民基本医疗保险参保登记", 11, ["城乡居民基本医疗保险", "参保登记"]),
        ("城乡居民基本养老保险参保登记", 7, ["城乡居民", "基本养老保险", "参保登记"]),
        ("不动产权证书补证、换证", 7, ["不动产权证书", "补证、换证"]),
        ("出生登记", 11, ["出生登记"]),
    ],
)
def test_names_wrap_at_word_boundaries(name: str, width: int, lines: list[str]) -> None:
    assert wrap_name(name, width).split("\n") == lines


def _hall(windows: dict[int, list[str]]) -> HallDetailOut:
    """A hall with only what where_to_go reads (its windows and their queues)."""
    return HallDetailOut.model_construct(
        windows=[
            HallWindow(
                id=n,
                number=n,
                name=f"{n}号窗口",
                kind="specialised",
                status="open",
                groups=dict.fromkeys(gs, 1),
            )
            for n, gs in windows.items()
        ]
    )


def test_where_to_go_names_the_queues_windows_as_ranges() -> None:
    hall = _hall({3: ["A", "B"], 4: ["B"], 7: ["B"], 8: ["B"], 9: ["B"], 10: ["C"], 21: ["B"]})
    assert where_to_go(hall, "B") == "请到3–4、7–9、21号窗口"
    assert where_to_go(hall, "C") == "请到10号窗口"
    assert where_to_go(hall, "Z") == ""
    assert where_to_go(hall, "B", window_number=8) == "请到8号窗口"
