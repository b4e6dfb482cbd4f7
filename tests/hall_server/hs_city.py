"""A tiny city for the hall-server API tests: a city hall with a county hall below it."""

from __future__ import annotations

from typing import Any

CITY = "t-city"
COUNTY = "t-county"

# Valid resident ID numbers (check characters computed by queueing.idnumber).
ID_ELDERLY = "110101195001011239"  # born 1950: elderly green channel
ID_YOUNG = "110101199003074565"  # born 1990
ID_YOUNG_2 = "510102200001011110"  # born 2000
ID_BAD_CHECKSUM = "110101199003074566"

PASSWORD = "pw-测试-1234"


def tiny_city() -> dict[str, Any]:
    """The city data file, in the assets/demo_city.json schema."""
    policy = {
        "green_mode": "absolute",
        "recall_cap": 2,
        "elderly_age": 70,
        "per_person_daily_limit": 2,
        "allow_anonymous": True,
    }
    return {
        "city": "测试市",
        "timezone": "Asia/Shanghai",
        "services": [
            {
                "code": "S-A1",
                "name": "社会保障卡申领",
                "sub_name": "",
                "category": "社保",
                "department": "人社局",
                "legal_basis": "《社会保险法》",
                "time_limit_days": 5,
                "promise_days": 1,
                "materials": [{"name": "居民身份证", "copies": 1, "original": True, "note": ""}],
                "forms": [],
                "steps": ["取号", "受理", "办结"],
                "fee": "不收费",
                "online_url": "",
            },
            {"code": "S-A2", "name": "医保参保登记", "category": "医保", "department": "医保局"},
            {"code": "S-B1", "name": "不动产登记资料查询", "category": "不动产", "department": "自然资源局"},
            {"code": "S-X", "name": "未被任何大厅认领的事项", "category": "其他", "department": "其他"},
        ],
        "halls": [
            {
                "id": CITY,
                "name": "测试市政务服务中心",
                "short_name": "市中心",
                "level": "city",
                "parent": None,
                "address": "测试市人民路1号",
                "phone": "0827-1234567",
                "notices": ["过号无效，请您重新取号"],
                "policy": policy,
                "opening_hours": [],
                "groups": [
                    {"prefix": "A", "name": "社保医保", "services": ["S-A1", "S-A2"]},
                    {"prefix": "B", "name": "不动产", "services": ["S-B1"]},
                ],
                "windows": [
                    {"number": 1, "name": "综合窗口", "kind": "comprehensive", "groups": {"A": 2, "B": 1}},
                    {"number": 2, "name": "社保窗口", "kind": "specialised", "groups": {"A": 1}},
                    {"number": 3, "name": "不动产窗口", "kind": "specialised", "groups": {"B": 1}},
                ],
                "clerks": [
                    {"username": "c1", "name": "张三", "password": PASSWORD},
                    {"username": "c2", "name": "李四", "password": PASSWORD},
                    {"username": "c3", "name": "王五", "password": PASSWORD},
                ],
            },
            {
                "id": COUNTY,
                "name": "测试县政务服务中心",
                "short_name": "县中心",
                "level": "county",
                "parent": CITY,
                "policy": policy,
                "opening_hours": [],
                "groups": [{"prefix": "A", "name": "综合", "services": ["S-A1"]}],
                "windows": [{"number": 1, "name": "综合窗口", "kind": "comprehensive", "groups": {"A": 1}}],
                "clerks": [{"username": "d1", "name": "赵六", "password": PASSWORD}],
            },
        ],
        "managers": [
            {"username": "m-city", "name": "刘经理", "password": PASSWORD, "hall": CITY},
            {"username": "m-county", "name": "陈经理", "password": PASSWORD, "hall": COUNTY},
        ],
        "admins": [{"username": "root", "password": PASSWORD}],
    }
