"""Constants of the hall server in one place: versions, defaults, limits, error codes."""

from __future__ import annotations

VERSION = "0.1.0"
API_PREFIX = "/api/v1"
# The name of the bearer scheme in the OpenAPI description (every route that needs a token).
BEARER_SCHEME = "HallToken"
# The largest request body the server reads; a larger one is refused (413) before it is read.
MAX_BODY_BYTES = 1024 * 1024
# The longest Idempotency-Key header a retrying client may send.
IDEMPOTENCY_KEY_MAX = 100
# The range of a 64-bit database integer: ids, sequence numbers and counts a request may carry.
DB_INT_MIN = -(2**63)
DB_INT_MAX = 2**63 - 1
# Deepest JSON nesting a request body may have (no request of the API nests more than a few levels).
MAX_JSON_DEPTH = 32

# Data folder and files
DEFAULT_DATA_DIR = "./data"
DB_FILE_NAME = "hall.sqlite3"
DEMO_DB_FILE_NAME = "demo.sqlite3"
KEY_FILE_NAME = "data.key"
DEMO_TOKENS_FILE = "demo-tokens.json"
DATA_KEY_ENV = "HALL_DATA_KEY"
DB_URL_ENV = "HALL_DB_URL"
DATA_DIR_ENV = "HALL_DATA_DIR"
PUBLIC_URL_ENV = "HALL_PUBLIC_URL"
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_PORT = 8600
# uvicorn's WebSocket implementation (override with HALL_WS_PROTOCOL for comparisons).
WS_PROTOCOL = __import__("os").environ.get("HALL_WS_PROTOCOL", "websockets-sansio")

# SQLite tuning: writers wait this long for the lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 15000
# Several processes on one SQLite file learn about each other's events by polling.
SQLITE_EVENT_POLL_S = 0.5
PG_NOTIFY_CHANNEL = "hall_events"

# Auth
TOKEN_BYTES = 32
TRACK_TOKEN_BYTES = 12
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
ROLES = ("admin", "manager", "clerk", "kiosk", "display", "rating")
DEVICE_ROLES = ("kiosk", "display", "rating")

# Advisory-lock keys of the per-person daily limit are hashed under this name (PostgreSQL).
PERSON_LOCK_NAMESPACE = "hall-person-day"

# Audit chain (全过程留痕): the hash of each event links it to the one before.
CHAIN_ALGORITHMS = ("sha256", "sm3")
DEFAULT_CHAIN_ALGORITHM = "sha256"
CHAIN_ALGORITHM_ENV = "HALL_AUDIT_HASH"
# Security acts that no hall display may see are chained as the events of "audit:<scope>",
# scope being a hall id or AUDIT_CITY_SCOPE for acts that belong to no hall.
AUDIT_STREAM_PREFIX = "audit:"
AUDIT_CITY_SCOPE = "city"
# Seconds between periodic chain verifications in the background pass (0 turns it off).
AUDIT_VERIFY_ENV = "HALL_AUDIT_VERIFY_SECONDS"
AUDIT_VERIFY_DEFAULT_S = 300.0
AUDIT_VERIFY_PAGE = 2000
# Each server process walks every chain from its genesis at start and then once a day.
AUDIT_FULL_VERIFY_S = 24 * 3600.0

# Personal data at rest: the cipher of new ciphertexts (old ones keep their own, see crypto.py).
CIPHERS = ("aes-gcm", "sm4-gcm")
DEFAULT_CIPHER = "aes-gcm"
CIPHER_ENV = "HALL_DATA_CIPHER"
DATA_KEY_FILE_ENV = "HALL_DATA_KEY_FILE"
# The PostgreSQL role `hall-server db grant-app-role` creates for the server processes.
APP_ROLE_DEFAULT = "hall_app"
# server_meta keys
META_KEY_FINGERPRINT = "data_key_fingerprint"

# Queries
RECENT_CALLS = 10
EVENTS_PAGE_MAX = 1000
EVENTS_PAGE_DEFAULT = 500
RECENT_SERVICE_SAMPLE = 20
# One WebSocket subscriber may fall this many events behind before it is dropped
# (it reconnects with ?since= and loses nothing).
SUBSCRIBER_QUEUE_MAX = 5000
WS_CLOSE_LAGGING = 4008
WS_CLOSE_UNAUTHORISED = 4401
WS_CLOSE_FORBIDDEN = 4403
WS_CLOSE_NOT_FOUND = 4404

# Ratings: 5 非常满意 .. 1 非常不满意; 1 and 2 are bad ratings (差评).
RATING_LEVELS = (5, 4, 3, 2, 1)
BAD_RATING_MAX = 2
RATING_CHANNELS = ("device", "qr", "phone")

# Document photos kept with a ticket (材料留存): JPEG only, at most this many bytes each.
DOCUMENT_MAX_BYTES = 5 * 1024 * 1024
DOCUMENT_LABEL_MAX = 100
DOCUMENT_CONTENT_TYPE = "image/jpeg"
# Days a document photo is kept; 0 keeps them (the hall's archive rules decide).
DOCUMENT_RETENTION_ENV = "HALL_DOCUMENT_RETENTION_DAYS"
# A photo queued on the clerk's machine while the link was down may arrive after the ticket left
# the window; it is accepted if its taken_at lies in the ticket's time at the window (this slack
# allows for the two clocks disagreeing).
DOCUMENT_LATE_SLACK_S = 300

# Zeroconf
ZEROCONF_TYPE = "_hall._tcp.local."

# Event types
EV_TICKET_ISSUED = "ticket.issued"
EV_TICKET_CALLED = "ticket.called"
EV_TICKET_RECALLED = "ticket.recalled"
EV_TICKET_NO_SHOW = "ticket.no_show"
EV_TICKET_STARTED = "ticket.started"
EV_TICKET_FINISHED = "ticket.finished"
EV_TICKET_TRANSFERRED = "ticket.transferred"
EV_TICKET_SUSPENDED = "ticket.suspended"
EV_TICKET_CALLED_BACK = "ticket.called_back"
EV_TICKET_CANCELLED = "ticket.cancelled"
EV_WINDOW_UPDATED = "window.updated"
EV_CLERK_LOGGED_IN = "clerk.logged_in"
EV_CLERK_LOGGED_OUT = "clerk.logged_out"
EV_RATING_REQUESTED = "rating.requested"
EV_RATING_RECORDED = "rating.recorded"
EV_DEVICE_HEARTBEAT = "device.heartbeat"
EV_DEVICE_FAULT = "device.fault"
EV_HALL_UPDATED = "hall.updated"
EV_TICKET_DOCUMENT_ADDED = "ticket.document_added"
EV_TICKET_DOCUMENT_DELETED = "ticket.document_deleted"
EV_DOCUMENTS_PURGED = "documents.purged"
# Security acts, in the audit streams (hall_server/audit.py), never shown to a hall's displays.
AU_LOGIN = "audit.login"
AU_LOGIN_FAILED = "audit.login_failed"
AU_TOKEN_CREATED = "audit.token_created"
AU_TOKEN_REVOKED = "audit.token_revoked"
AU_TOKEN_ROTATED = "audit.token_rotated"
AU_ID_REVEALED = "audit.id_revealed"
AU_DOCUMENT_VIEWED = "audit.document_viewed"
AU_DOCUMENT_DELETED = "audit.document_deleted"
AU_SETTINGS_CHANGED = "audit.settings_changed"
# Events that change static hall configuration held in the per-process cache.
CONFIG_EVENTS = frozenset({EV_HALL_UPDATED})
CALL_EVENTS = (EV_TICKET_CALLED, EV_TICKET_RECALLED, EV_TICKET_CALLED_BACK)

# Error codes with (HTTP status, zh_CN message, English message).
ERRORS: dict[str, tuple[int, str, str]] = {
    "request.invalid": (422, "请求内容不正确", "The request is invalid"),
    "request.not_found": (404, "请求的地址不存在", "No such path"),
    "request.method": (405, "不支持该请求方法", "Method not allowed"),
    "request.too_large": (413, "请求内容过大", "The request body is too large"),
    "server.error": (500, "服务器内部错误，请稍后重试", "Internal server error, please retry"),
    "server.busy": (503, "系统繁忙，请稍后重试", "The server is busy, please retry"),
    "server.unavailable": (503, "数据库暂时不可用，请稍后重试", "The database is unavailable, please retry"),
    "auth.required": (401, "请先登录或提供访问令牌", "Authentication required"),
    "auth.invalid": (401, "访问令牌无效或已注销", "The token is invalid or revoked"),
    "auth.bad_credentials": (401, "用户名或密码错误", "Wrong username or password"),
    "auth.forbidden": (403, "无权执行此操作", "This role may not do that"),
    "auth.wrong_hall": (403, "无权访问该大厅", "No access to this hall"),
    "auth.wrong_window": (403, "只能操作本人登录的窗口", "Clerks may only operate their own window"),
    "auth.window_required": (422, "窗口人员登录时须选择窗口", "A clerk must log in at a window"),
    "hall.unknown": (404, "大厅不存在", "No such hall"),
    "service.unknown": (404, "该事项不存在或本大厅不办理", "No such service item in this hall"),
    "group.unknown": (422, "队列分组不存在", "No such queue group in this hall"),
    "window.unknown": (404, "窗口不存在", "No such window"),
    "window.current_changed": (
        409,
        "窗口当前的号码已变化，请刷新后再操作",
        "The window's ticket in hand has changed; refresh and try again",
    ),
    "window.bad_close": (
        422,
        "“下一位”只能办结或过号",
        "next closes the ticket in hand by finish or no_show",
    ),
    "window.busy": (409, "窗口当前仍有办理中的号", "The window still has a ticket in hand"),
    "window.idle": (409, "窗口当前没有正在呼叫或办理的号", "The window has no current ticket"),
    "window.not_open": (409, "窗口未开放，不能叫号", "The window is not open"),
    "window.illegal_transition": (409, "窗口当前状态不允许该操作", "Not allowed in the window's status"),
    "window.no_rated_ticket": (409, "该窗口没有可评价的办件", "No served ticket to rate at this window"),
    "ticket.unknown": (404, "号票不存在", "No such ticket"),
    "ticket.other_hall": (409, "该号票不属于本大厅", "The ticket belongs to another hall"),
    "ticket.not_waiting": (409, "该号票不在等候中", "The ticket is not waiting"),
    "queue.empty": (404, "当前没有等候的号", "Nobody is waiting for this window"),
    "transfer.target_required": (
        422,
        "请选择转移到的事项或窗口",
        "Give a service or a window to transfer to",
    ),
    "transfer.same_window": (422, "不能转移到本窗口", "Cannot transfer to the same window"),
    "green.unverified": (422, "老年人绿色通道须读取身份证", "The elderly channel needs an ID card"),
    "rating.unknown_ticket": (404, "评价的号票不存在", "No such ticket to rate"),
    "rating.not_served": (409, "该号票尚未办结，不能评价", "The ticket was not served yet"),
    "rating.duplicate": (409, "该号票已评价", "This ticket was already rated"),
    "rating.reasons_required": (422, "差评请选择原因", "A bad rating needs at least one reason"),
    "rating.wrong_window": (403, "评价器只能评价本窗口的办件", "A rating device rates its own window only"),
    "document.empty": (422, "材料照片为空", "The document photo is empty"),
    "document.not_jpeg": (415, "材料照片须为JPEG格式", "A document photo must be a JPEG"),
    "document.too_large": (
        413,
        "材料照片超过5MB，请降低分辨率后重拍",
        "The document photo is larger than 5 MB",
    ),
    "document.not_in_hand": (
        409,
        "只能为本窗口正在呼叫或办理的号留存材料",
        "Documents are kept only for a ticket called or served at this window",
    ),
    "document.bad_taken_at": (422, "拍摄时间格式不正确", "taken_at must be an ISO 8601 time"),
    "document.unknown": (404, "材料不存在", "No such document"),
    "device.unknown_hall": (422, "设备未绑定大厅", "The device is not bound to a hall"),
    "idempotency.conflict": (409, "重复请求的内容与首次不同", "Same idempotency key, different request"),
    "seed.invalid": (422, "城市数据文件不正确", "The city data file is invalid"),
}
