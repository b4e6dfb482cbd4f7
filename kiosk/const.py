"""Constants of the kiosk clients: roles, fonts, sizes, timeouts, rating vocabulary."""

from __future__ import annotations

import math

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
# The server closes a subscriber that fell too far behind with this code (docs/CONTRACTS.md);
# the channel reconnects at once with ?since= (not offline, no back-off).
WS_CLOSE_LAGGING = 4008
# What the websockets client itself sends when its keepalive ping is not answered in time.
WS_CLOSE_KEEPALIVE = 1011
# A replay reaching into events the server archived (its retention rule): the refusal's body has
# code EVENTS_PRUNED and detail.oldest_seq; the channel follows on from there.
WS_CLOSE_PRUNED = 4410
EVENTS_PRUNED = "events.pruned"

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
# Elderly mode: a service tile's least height at the 1080p design (before ELDERLY_SCALE), and the
# characters per line of a service name on the ticket page (broken at word boundaries).
ELDERLY_TILE_HEIGHT = 170
# The elderly header's title in px at the 1080p design (44 otherwise): bigger, and a long hall name fits.
ELDERLY_HEADER_TITLE = 50
# A button's least content height in elderly type, px at the 1080p design before ELDERLY_SCALE (84 otherwise).
ELDERLY_BUTTON_HEIGHT = 88
# The ID card picture on the identify page, px at the 1080p design (smaller in elderly type).
ID_ICON = 300
ELDERLY_ID_ICON = 220
ELDERLY_NAME_WRAP = 16
TICKET_NAME_WRAP = 24
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
# The frame of the control the keyboard is on (only the keyboard focuses: a touch never shows it).
COLOR_FOCUS = "#b35900"

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
RATING_REASONS_EN = {
    "服务效率": "Speed",
    "服务水平": "Competence",
    "服务态度": "Attitude",
    "办事结果": "Outcome",
}
# Tappable details of a bad rating instead of a comment box (a public kiosk has no keyboard for
# Chinese text): each goes into the rating's text and ticks the reason it belongs to.
RATING_DETAILS = (
    ("等候时间太长", "服务效率"),
    ("办理时间太长", "服务效率"),
    ("材料要求没有一次讲清", "服务水平"),
    ("业务不熟练", "服务水平"),
    ("态度冷淡、不耐烦", "服务态度"),
    ("事情没有办成", "办事结果"),
)
RATING_DETAIL_SEPARATOR = "；"
# Faces of the five levels: each level its own colour family (非常满意 and 满意 must not look alike).
RATING_LEVEL_COLORS = {5: "#0a7d3b", 4: "#0b63b6", 3: "#5f6b7a", 2: "#b35900", 1: "#c8102e"}
# A finger needs at least this much (px) on every rating control, whatever the screen's scale.
TOUCH_TARGET_MIN_PX = 60
# The clerk's photo on the rating terminal (3:4, as the server keeps it) and in the rating page's strip.
CLERK_PHOTO_SIZE = (240, 320)
CLERK_STRIP_PHOTO_H = 120

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
GREEN_REASON_EN = {
    "elderly": "Senior",
    "disabled": "Disability",
    "serviceman": "Service member",
    "pregnant": "Pregnancy",
}
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
STATUS_EN = {
    "waiting": "waiting",
    "called": "called",
    "serving": "being served",
    "suspended": "on hold",
    "finished": "done",
    "no_show": "missed",
    "cancelled": "cancelled",
    "expired": "not served today",
}
WINDOW_STATUS_ZH = {"open": "开放", "paused": "暂停", "closed": "关闭"}

TICKET_NOTE = "过号无效，请您重新取号"
TICKET_NOTE_EN = "Missed numbers are void; please take a new one."

# 呼叫工作人员: the event that tells the kiosk its call was acknowledged on the dashboard, how long
# the kiosk says 工作人员马上就到 without an acknowledgement, and how often a call made while the
# server is out of reach is sent again (the same call id: one call however often it is sent).
EV_STAFF_CALL_ACKNOWLEDGED = "staff_call.acknowledged"
STAFF_CALL_WAIT_S = 300
STAFF_CALL_RETRY_MS = 5000
# A call the server has not had yet, kept in the data folder: a restart still sends it (same id).
STAFF_CALL_OUTBOX = "staff-call-outbox.json"
ELDERLY_AGE_DEFAULT = 70

# Voice.
VOICE_REPEATS_DEFAULT = 2
VOICE_GAP_S = 0.6
# Not "cmn": on espeak-ng 1.51 (Debian 12) it reads most syllables as English with the tone digits aloud.
ESPEAK_VOICE = "cmn-latn-pinyin"
ESPEAK_SPEED = 140
# The visitor kiosk's spoken prompt on the identify step (kiosk.voice.prompts).
PROMPT_IDENTIFY = "请刷身份证"
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
# Reading distance: a Chinese character is read with confidence when its height is at least
# 1/250 of the distance (about 14 minutes of arc; signage guides give 1/200 to 1/300). A hall's
# display is read from DISPLAY_READING_DISTANCE_M across the hall, on a 65-inch panel (about 810 mm
# high): at 1080p a pixel is 0.75 mm, so 10 m needs 40 mm = 54 px; at 720p (1.125 mm) 36 px.
DISPLAY_READING_DISTANCE_M = 10
DISPLAY_LEGIBILITY_RATIO = 250
DISPLAY_PANEL_HEIGHT_MM = 810
DISPLAY_CHAR_MM = DISPLAY_READING_DISTANCE_M * 1000 / DISPLAY_LEGIBILITY_RATIO
# The window, waiting and recent-call text at 1080p (the design size; other screens scale it) ...
DISPLAY_TILE_PX = math.ceil(DISPLAY_CHAR_MM / (DISPLAY_PANEL_HEIGHT_MM / DESIGN_HEIGHT))  # 54
# ... and never below the same physical size on a 720p panel: a large hall pages instead.
DISPLAY_MIN_TILE_PX = math.ceil(DISPLAY_CHAR_MM / (DISPLAY_PANEL_HEIGHT_MM / 720))  # 36
# The current call (two lines, the largest text of the hall) and the 请 X 号准备 line.
DISPLAY_CALL_PX = 96
DISPLAY_NEXT_PX = DISPLAY_TILE_PX
# The zone headings over the windows (B区): a sign to find one's window by, smaller than the window
# text it stands over (it spares a row of the screen for each zone).
DISPLAY_ZONE_PX = 40
# How many queues' next tickets the 请 X 号准备 line names (longest waiting first; it shares a row
# with the 正在呼叫 title).
DISPLAY_NEXT_SHOWN = 2
# The title and margins of a display panel, in tile rows, when the two right panels share the height.
DISPLAY_PANEL_TITLE_ROWS = 2
# Room kept in the display's columns for what comes (bold tiles): a called number where 空闲 stands,
# two-digit waiting counts and minutes; the columns then stay put as calls come in.
DISPLAY_WIDEST_TICKET = "M000"
DISPLAY_WIDEST_COUNT = "99人 约99分"
# The title of the display's window panel: every window, or (a large hall) the serving ones only.
DISPLAY_WINDOWS_ALL = "窗口 Windows"
DISPLAY_WINDOWS_SERVING = "办理中窗口 Serving"
DISPLAY_NONE_SERVING = "暂无办理中的窗口"
# The heading of windows without a zone in a hall whose other windows have one.
DISPLAY_NO_ZONE = "其他窗口"
# Room between the clock and the connection badge of the display's top line.
DISPLAY_CLOCK_GAP = 24
