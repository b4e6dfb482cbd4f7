"""Constants of the queueing domain core, kept in one place."""

from __future__ import annotations

# --- ID numbers (GB 11643-1999) -------------------------------------------------------
ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
ID_LENGTH = 18
ID_OLD_LENGTH = 15
ID_MIN_BIRTH_YEAR = 1900
# Province-level codes (first two digits); 81/82/83 are residence permits for Hong Kong,
# Macau and Taiwan residents; 9x is the 2023 foreigner's permanent residence card.
ID_PROVINCE_CODES: frozenset[str] = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83",
        "91", "92", "93", "94", "95", "96", "97", "98", "99",
    }
)  # fmt: skip
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    {
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里",
        "呼延", "澹台", "万俟", "闻人", "申屠", "太史", "钟离", "宗政", "濮阳", "淳于",
    }
)  # fmt: skip
MASK_CHAR = "*"

# --- Numbering --------------------------------------------------------------------------
DEFAULT_NUMBER_WIDTH = 3
PREFIX_MAX_LENGTH = 2

# --- Policy defaults --------------------------------------------------------------------
DEFAULT_RECALL_CAP = 5
DEFAULT_ELDERLY_AGE = 70
DEFAULT_GREEN_RATIO = (1, 2)
DEFAULT_TARGET_WAIT_MINUTES = 30
GREEN_MODES = ("absolute", "ratio")
# How many of a window's most recent calls the weighted round-robin looks at.
HISTORY_WINDOW = 60

# --- Wait estimates ---------------------------------------------------------------------
DEFAULT_SERVICE_SECONDS = 300.0
ESTIMATE_SAMPLE_SIZE = 30
ESTIMATE_TRIM_FRACTION = 0.1
# Durations outside this range are treated as data errors (button pressed twice, clerk left).
MIN_SERVICE_SECONDS = 5.0
MAX_SERVICE_SECONDS = 4 * 3600.0

# --- Labels -----------------------------------------------------------------------------
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "waiting": ("等候中", "waiting"),
    "called": ("已叫号", "called"),
    "serving": ("办理中", "being served"),
    "suspended": ("已挂起", "suspended"),
    "finished": ("已办结", "finished"),
    "no_show": ("已过号", "no-show"),
    "cancelled": ("已取消", "cancelled"),
    "expired": ("日终未办结", "closed unserved at day end"),
}
OP_LABELS: dict[str, tuple[str, str]] = {
    "call": ("叫号", "call"),
    "recall": ("重呼", "recall"),
    "no_show": ("过号", "mark no-show"),
    "start": ("开始办理", "start"),
    "finish": ("办结", "finish"),
    "transfer": ("转移", "transfer"),
    "suspend": ("挂起", "suspend"),
    "call_back": ("回呼", "call back"),
    "cancel": ("取消", "cancel"),
    "expire": ("日终关闭", "close at day end"),
}
GREEN_LABELS: dict[str, tuple[str, str]] = {
    "elderly": ("老年人", "elderly"),
    "disabled": ("残疾人", "disabled"),
    "serviceman": ("军人", "serviceman"),
    "pregnant": ("孕妇", "pregnant"),
}
LEVEL_LABELS: dict[str, tuple[str, str]] = {
    "city": ("市级", "city"),
    "county": ("县（区）级", "county/district"),
    "township": ("乡镇（街道）级", "township/street"),
    "village": ("村（社区）级", "village/community"),
}
WINDOW_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "open": ("开放", "open"),
    "paused": ("暂停", "paused"),
    "closed": ("关闭", "closed"),
}

# --- Announcements ----------------------------------------------------------------------
ZH_DIGITS = "零一二三四五六七八九"
ZH_UNITS = ("", "十", "百", "千")
ZH_MYRIAD = "万"
MAX_WINDOW_NUMBER = 9999

# --- Ratings ----------------------------------------------------------------------------
RATING_LABELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "very satisfied"),
    4: ("满意", "satisfied"),
    3: ("基本满意", "fairly satisfied"),
    2: ("不满意", "dissatisfied"),
    1: ("非常不满意", "very dissatisfied"),
}
BAD_RATING_MAX = 2
RATING_REASONS: dict[str, tuple[str, str]] = {
    "efficiency": ("服务效率", "efficiency"),
    "competence": ("服务水平", "competence"),
    "attitude": ("服务态度", "attitude"),
    "outcome": ("办事结果", "outcome"),
}
RATING_TEXT_MAX = 500
RATING_CHANNELS = ("device", "qr", "phone")
# A window serves a group at most this many times for one of another (a weight is a ratio, not a count).
MAX_GROUP_WEIGHT = 100
# A window's zone (分区, "B区"): a short sign the visitor looks for, said in 请到B区7–9号窗口.
WINDOW_ZONE_MAX = 8
