"""Constants of the kiosk clients: roles, fonts, sizes, timeouts, rating vocabulary."""

from __future__ import annotations

# The kiosk software version, sent with every heartbeat (managers see it on the device page).
KIOSK_VERSION = "0.1.0"
# Where a first-start enrolment keeps this machine's device token (inside its data folder).
ENROLLED_FILE = "enrolled.json"
# The managers' enrolment QR reads "hall-enrol:<server>#ABCD-EFGH"; a code has 4..20 letters/digits.
ENROL_QR_PREFIX = "hall-enrol:"
ENROL_CODE_MIN = 4
ENROL_CODE_MAX = 20
# The keys of the typed enrolment code: the server's code alphabet (no 0/O, 1/I/L), kept in step
# with hall_server.const.ENROL_CODE_ALPHABET (the kiosk never imports the server).
ENROL_KEYS = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
ENROL_KEYS_PER_ROW = 8
# Roles that need a device token: without one they start on the enrolment screen.
ENROL_ROLES = ("visitor", "display", "rating")
# The machine's role for the device role a token was registered for.
ROLE_OF_DEVICE = {"kiosk": "visitor", "display": "display", "rating": "rating"}
# The QR scanner: milliseconds between looks through the camera, and how long the same code is
# not acted on again (it stays in front of the camera while its answer is shown).
SCAN_INTERVAL_MS = 150
SCAN_REPEAT_S = 4.0
# How often the visitor screen looks at the clock for its 午休中 / 今日已停止取号 banner.
HOURS_CHECK_MS = 30_000
# A booking code on the booking page's QR: 4..16 letters and digits.
BOOKING_CODE_MIN = 4
BOOKING_CODE_MAX = 16

ROLES = ("visitor", "clerk", "display", "rating", "village")
ROLE_NAMES_ZH = {
    "visitor": "自助取号机",
    "clerk": "窗口叫号终端",
    "display": "大厅综合屏",
    "rating": "评价器",
    "village": "村级便民服务一体机",
}

API_PATH = "/api/v1"
ZEROCONF_TYPE = "_hall._tcp.local."
ZEROCONF_TIMEOUT_S = 3.0

# HTTP: (connect, read) timeouts; reads are short because a kiosk must not hang a visitor.
HTTP_TIMEOUT = (3.0, 8.0)
HTTP_RETRIES = 2
HTTP_RETRY_BACKOFF_S = 0.3
RETRY_STATUSES = (502, 503, 504)
# Document photos (材料留存): a few MB over a village link needs a longer read.
DOCUMENT_CONTENT_TYPE = "image/jpeg"
DOCUMENT_HTTP_TIMEOUT = (3.0, 30.0)
DOCUMENT_OTHER_MATERIAL_ZH = "其他材料"  # the last choice of the clerk's material list
DOCUMENT_OUTBOX_DIR = "document-outbox"
DOCUMENT_RETRY_S = 15
DOCUMENT_NEEDS_TICKET_ZH = "拍摄的材料须属于一个号：请先叫号再拍摄（本张仅在屏幕上显示，未保存）"
DOCUMENT_QUEUED_ZH = "材料暂存本机，网络恢复后自动上传"
DOCUMENT_QUEUED_LOGIN_ZH = "材料暂存本机，重新登录后自动上传"

# Event channel back-off (seconds), doubled after every failed attempt.
WS_BACKOFF_START_S = 0.3
WS_BACKOFF_MAX_S = 5.0
WS_OPEN_TIMEOUT_S = 3.0

# Fonts: pick the CJK family explicitly; the fallbacks cover machines without Noto.
FONT_FAMILIES = [
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "sans-serif",
]
BASE_POINT_SIZE = 20
ELDERLY_SCALE = 1.35
DESIGN_WIDTH = 1920
DESIGN_HEIGHT = 1080

# Colours: high contrast for elderly visitors (WCAG AA or better on every pair).
COLOR_PRIMARY = "#0b4f9c"
COLOR_PRIMARY_DARK = "#083b75"
COLOR_ACCENT = "#c8102e"
COLOR_GREEN = "#0a7d3b"
COLOR_BG = "#f3f6fa"
COLOR_TEXT = "#111111"
COLOR_MUTED = "#444444"
COLOR_WARN_BG = "#fff3cd"
COLOR_WARN_TEXT = "#5c4400"
COLOR_DISPLAY_BG = "#06162e"
COLOR_DISPLAY_TEXT = "#ffffff"
COLOR_DISPLAY_HIGHLIGHT = "#ffd400"

IDLE_TIMEOUT_S = 60
# After the idle time the visitor kiosk warns this long (a countdown) before it goes home.
IDLE_WARNING_S = 10
# The ticket page returns home by itself after this long, counting down the last seconds on screen.
TICKET_RETURN_S = 15
TICKET_RETURN_MIN_S = 3
# The visitor's on-screen keyboard: letters for pinyin initials, in the order of a phone's keyboard.
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# How many of the synonyms in assets/search_terms.json the keyboard offers as one-tap words.
KEYBOARD_QUICK_WORDS = 6
# 上一页 / 下一页 glide this long (ms), so the eye follows where the list went.
PAGE_SCROLL_MS = 250
RATING_THANKS_S = 5
RATING_IDLE_S = 60

RATING_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
RATING_LEVELS_EN = {5: "Very satisfied", 4: "Satisfied", 3: "Fair", 2: "Dissatisfied", 1: "Very dissatisfied"}
BAD_RATING_MAX = 2
RATING_REASONS = ("服务效率", "服务水平", "服务态度", "办事结果")

# The hall's rules changed: the event that says so, and how long the visitor kiosk waits for more
# changes of the same burst before re-reading the hall.
EV_HALL_UPDATED = "hall.updated"
HALL_RELOAD_DELAY_MS = 500

# Why a clerk removes a self-declared priority (zh_CN, the words kept in the hall's report).
PRIORITY_REMOVE_REASONS = (
    ("未出示证件", "No certificate shown"),
    ("证件不符", "Certificate does not match"),
    ("其他", "Other"),
)
GREEN_REASON_ZH = {"elderly": "老年人", "disabled": "残疾人", "serviceman": "军人", "pregnant": "孕妇"}
STATUS_ZH = {
    "waiting": "等候中",
    "called": "已叫号",
    "serving": "办理中",
    "suspended": "已挂起",
    "finished": "已办结",
    "no_show": "已过号",
    "cancelled": "已取消",
    "expired": "日终未办结",
}
WINDOW_STATUS_ZH = {"open": "开放", "paused": "暂停", "closed": "关闭"}

TICKET_NOTE = "过号无效，请您重新取号"
ELDERLY_AGE_DEFAULT = 70

# Voice.
VOICE_REPEATS_DEFAULT = 2
VOICE_GAP_S = 0.6
# Not "cmn": on espeak-ng 1.51 (Debian 12) it reads most syllables as English with the tone digits aloud.
ESPEAK_VOICE = "cmn-latn-pinyin"
ESPEAK_SPEED = 140
PLAYERS = ("pw-play", "paplay", "aplay")

# Clerk shortcuts: operation -> (key, label zh, label en).
CLERK_OPS = {
    "call_next": ("F1", "叫号", "Call next"),
    "recall": ("F2", "重呼", "Recall"),
    "no_show": ("F3", "过号", "No-show"),
    "start": ("F4", "开始办理", "Start"),
    "finish": ("F5", "办结", "Finish"),
    "transfer": ("F6", "转移", "Transfer"),
    "suspend": ("F7", "挂起", "Suspend"),
    "call_back": ("F8", "回呼", "Call back"),
    "call_chosen": ("F9", "选号呼叫", "Call chosen"),
    "pause": ("F10", "暂停/恢复", "Pause/Resume"),
    "read_id": ("F11", "读身份证", "Read ID card"),
    "photo": ("F12", "拍摄材料", "Photo"),
}

# F1 while a ticket is being served: finish it and call the next (下一位).
CLERK_NEXT_ZH = "办结并叫号"

DEVICE_KIND_PRINTER = "printer"
DEVICE_KINDS = {
    "visitor": "kiosk",
    "clerk": "clerk_terminal",
    "display": "display",
    "rating": "rating",
    "village": "kiosk",
}
# Heartbeats every HEARTBEAT_S (the server shows a machine offline after about three missed beats,
# hall_server DEVICE_STALE_SECONDS); the hardware is polled every HEALTH_POLL_S in the task pool.
HEARTBEAT_S = 30
HEALTH_POLL_S = 10
HEALTH_MIN_S = 0.2  # smallest interval a configuration may ask for (tests use about a second)
# A station's own hall server is asked for its link to the city (GET /sync/link) this often; a
# server that is no station (mode "standalone") only every LINK_STANDALONE_POLL_S.
LINK_POLL_S = 5
LINK_STANDALONE_POLL_S = 120
FAULT_PAPER_OUT = "printer.paper_out"
FAULT_PAPER_LOW = "printer.paper_low"
FAULT_OFFLINE = "printer.offline"
FAULT_COVER_OPEN = "printer.cover_open"
FAULT_PRINTER = "printer.error"
FAULT_READER = "reader.disconnected"
FAULT_CAMERA = "camera.lost"
FAULT_VOICE = "voice.failed"
# What managers read on the dashboard for each fault the machine reports itself.
FAULT_ZH = {
    FAULT_PAPER_OUT: "打印机缺纸",
    FAULT_PAPER_LOW: "打印纸将尽，请及时更换",
    FAULT_OFFLINE: "打印机离线",
    FAULT_COVER_OPEN: "打印机纸仓盖未合上",
    FAULT_PRINTER: "打印机故障",
    FAULT_READER: "身份证读卡器未连接",
    FAULT_CAMERA: "摄像头未连接",
    FAULT_VOICE: "语音播报不可用",
}
# Faults that warn but leave the machine in service (it still prints).
FAULT_WARNINGS = frozenset({FAULT_PAPER_LOW})
# Heartbeat status: ok, warning (only warnings outstanding) or fault.
STATUS_OK = "ok"
STATUS_WARNING = "warning"
STATUS_FAULT = "fault"

# Halls run on China Standard Time unless a machine's config says otherwise.
HALL_TIMEZONE = "Asia/Shanghai"

# Hall display: windows and waiting counts that do not fit one screen turn pages (第1/3页).
DISPLAY_PAGE_S = 8.0
DISPLAY_PAGE_MIN_S = 2.0
DISPLAY_PAGE_MAX_S = 120.0
# The smallest type of the window and waiting tiles at any screen size: read from a few metres away,
# a 720p hall screen must not shrink it further; a large hall pages instead.
DISPLAY_MIN_TILE_PX = 18
DISPLAY_TILE_PX = 28
# The title and margins of a display panel, in tile rows, when the two right panels share the height.
DISPLAY_PANEL_TITLE_ROWS = 2
# Room kept in the display's columns for what comes (bold tiles): a called number where 空闲 stands,
# two-digit waiting counts and minutes; the columns then stay put as calls come in.
DISPLAY_WIDEST_TICKET = "M000"
DISPLAY_WIDEST_COUNT = "99人 约99分"
