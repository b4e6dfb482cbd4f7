"""Constants of the hall server in one place: versions, defaults, limits, error codes."""

from __future__ import annotations

from queueing.const import WINDOW_ZONE_MAX

VERSION = "0.1.0"
API_PREFIX = "/api/v1"
# FastAPI's own OpenTelemetry hooks, all off: the hall exports no traces, metrics or logs through
# OpenTelemetry, and the per-request check whether a provider is configured costs CPU (app.py).
FASTAPI_TELEMETRY_OFF: dict[str, bool] = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
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
# Seconds between the background passes of a server process.
DEFAULT_WORKER_SECONDS = 15.0
DB_FILE_NAME = "hall.sqlite3"
DEMO_DB_FILE_NAME = "demo.sqlite3"
KEY_FILE_NAME = "data.key"
DEMO_TOKENS_FILE = "demo-tokens.json"
DATA_KEY_ENV = "HALL_DATA_KEY"
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_PORT = 8600
# uvicorn's WebSocket implementations `serve` may run (Settings.ws_protocol, HALL_WS_PROTOCOL, for
# comparisons), the first being the default.
WS_PROTOCOLS = ("websockets-sansio", "websockets", "wsproto")
# No permessage-deflate on WebSockets (the event stream is the only one): compression state is
# per connection, so every event was compressed once per subscriber, a quarter of the server's
# CPU in a fan-out; events are small JSON on a hall's LAN.
WS_PER_MESSAGE_DEFLATE = False
# `serve` raises its soft limit of open files to this (or the hard limit): a process holds a
# socket per WebSocket subscriber, and a city's screens are thousands.
OPEN_FILES_WANTED = 65536

# SQLite tuning: writers wait this long for the lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 15000
# WAL checkpoints. SQLite's own (every 1,000 pages) runs in the committing thread and fsyncs
# the database file: the serving lane stood still for it, up to 25 ms (the p99 of issue at
# 1,000/s). A serving process checkpoints in a thread of its own this often (db/checkpoint.py);
# a connection still checkpoints itself past the backstop, should that thread fall behind.
SQLITE_CHECKPOINT_S = 0.5
SQLITE_WAL_BACKSTOP_PAGES = 20000
# psycopg prepares a statement on a connection after this many runs of it (its default is 5):
# the hot statements then skip parsing, and PostgreSQL plans them a few times at most.
PG_PREPARE_THRESHOLD = 2
# The pool pings a PostgreSQL connection at check-out only if it sat unused this long: one in
# steady use costs no extra round trip; one found dead anyway is replaced by the request's
# token look-up (db/engine.py, Database.first_read).
PG_PING_IDLE_S = 2.0
# PostgreSQL appends at most this many events of a hall in one statement (events.py): a use
# case's few (下一位: 2-3) in one go; a day end's hundreds in statements of this many.
PG_EVENTS_PER_APPEND = 8
# Several processes on one SQLite file learn about each other's events by polling.
SQLITE_EVENT_POLL_S = 0.5
# Group commit in the SQLite lane (db/lane.py): the calls already queued share one COMMIT, up
# to this many calls or this much work after the first call, so its answer is not held up long.
GROUP_MAX_CALLS = 32
GROUP_MAX_S = 0.004
PG_NOTIFY_CHANNEL = "hall_events"

# Auth
TOKEN_BYTES = 32
TRACK_TOKEN_BYTES = 12
# The longest tracking token a request may name (the column's width): longer ones are refused unread.
TRACK_TOKEN_MAX = 40
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
ROLES = ("admin", "manager", "clerk", "kiosk", "display", "rating")
DEVICE_ROLES = ("kiosk", "display", "rating")
# Roles whose tokens come from POST /auth/login and therefore expire (device tokens never do).
SESSION_ROLES = ("admin", "manager", "clerk")

# Sessions (defaults; the environment variables below override them, see config.SecurityPolicy).
# Managers and admins: 30 min without a request ends the session; 12 h at most in any case.
SESSION_IDLE_STAFF_S = 30 * 60
# Clerks sit at a window all day with breaks: 4 h idle, and a working day (12 h) at most.
SESSION_IDLE_CLERK_S = 4 * 60 * 60
SESSION_ABSOLUTE_S = 12 * 60 * 60
# last_used_at is written at most this often per token, so the idle check costs no write per request.
SESSION_TOUCH_S = 60

# Log-in throttling: failures per account and per source address within a window.
LOGIN_FAILURE_WINDOW_S = 15 * 60
# From this many failures in a row, each new attempt waits 2**(n - start) s (capped) — 429.
LOGIN_BACKOFF_AFTER = 5
LOGIN_BACKOFF_MAX_S = 60
# From this many failures the account is locked (423) for LOGIN_LOCK_S.
LOGIN_LOCK_AFTER = 10
LOGIN_LOCK_S = 15 * 60
# One address may try several accounts (a shared hall PC), so its limits are higher.
LOGIN_ADDR_BACKOFF_AFTER = 10
LOGIN_ADDR_LOCK_AFTER = 30

# Password policy a city sets: minimum length and how many of the classes
# (lower case, upper case, digits, other characters) a new password must contain.
PASSWORD_MIN_LENGTH = 10
PASSWORD_MIN_CLASSES = 3
PASSWORD_MAX_LENGTH = 200

# WebSocket tickets: a one-time secret for the socket URL instead of the long-lived token.
WS_TICKET_TTL_S = 30
WS_TICKET_BYTES = 24
# An open event socket re-checks its token this often (closed 4401 once it is revoked or expired).
WS_AUTH_RECHECK_S = 60.0

# TLS: the uvicorn certificate and key files (also from the environment for worker processes).

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
# The event retention rule's last outcome (event_archive.record_retention): "ok", or "needs_owner"
# while the server's role may not move events (PostgreSQL's append-only app role).
META_EVENT_RETENTION = "event_retention"
RETENTION_OK = "ok"
RETENTION_NEEDS_OWNER = "needs_owner"

# Queries
RECENT_CALLS = 10
# A hall's recent calls fewer than RECENT_CALLS in the live log: read on into at most this many of
# its newest archived day blocks (a display started after a holiday longer than the retention).
RECENT_ARCHIVE_BLOCKS = 7
EVENTS_PAGE_MAX = 1000
EVENTS_PAGE_DEFAULT = 500
RECENT_SERVICE_SAMPLE = 20
# One WebSocket subscriber may fall this many events behind before it is dropped (it reconnects
# with ?since= and loses nothing). It also bounds a hall stream's shared tail of event texts in
# memory (bus.HallStream.tail), whatever the number of subscribers.
SUBSCRIBER_QUEUE_MAX = 5000
WS_CLOSE_LAGGING = 4008
# A subscriber whose current send has waited this long for the client to read is lagging too,
# whatever its queue holds: shorter than the clients' keepalive ping timeout (20 s, websockets'
# default), so the server's 4008 comes before a 1011 from either side's keepalive.
WS_SEND_STALL_S = 10.0
# Sent as the close reason with WS_CLOSE_LAGGING: the client reconnects with ?since=its last seq.
WS_LAGGING_REASON = "events.lagging"
# Replays from the database (a reconnect with an old ?since=) running at once per process; the
# rest wait their turn. Each holds at most one page of REPLAY_PAGE events, so replay memory is
# bounded in total, however many subscribers reconnect together.
REPLAY_CONCURRENCY_MAX = 4
REPLAY_PAGE = 200
WS_CLOSE_UNAUTHORISED = 4401
WS_CLOSE_FORBIDDEN = 4403
WS_CLOSE_NOT_FOUND = 4404
# A replay (?since=) reaches into archived events (events.pruned, HTTP 410): resync from the
# hall's current state, then follow from the oldest seq still kept.
WS_CLOSE_PRUNED = 4410
# Days (UTC) a past day's empty waiting_counts row is kept before the day-end pass deletes it
# (past every hall's day end; a late ticket of that day makes its row again).
WAITING_COUNTS_KEPT_DAYS = 2
# Events of one stream moved to the archive per transaction (event_archive.archive_closed_days).
EVENT_ARCHIVE_BATCH = 2000

# Ratings: 5 非常满意 .. 1 非常不满意; 1 and 2 are bad ratings (差评).
RATING_LEVELS = (5, 4, 3, 2, 1)
BAD_RATING_MAX = 2
RATING_CHANNELS = ("device", "qr", "phone")

# Document photos kept with a ticket (材料留存): JPEG only, at most this many bytes each.
DOCUMENT_MAX_BYTES = 5 * 1024 * 1024
DOCUMENT_LABEL_MAX = 100
DOCUMENT_CONTENT_TYPE = "image/jpeg"
# Days a document photo is kept; 0 keeps them (the hall's archive rules decide).
# A photo queued on the clerk's machine while the link was down may arrive after the ticket left
# the window; it is accepted if its taken_at lies in the ticket's time at the window (this slack
# allows for the two clocks disagreeing).
DOCUMENT_LATE_SLACK_S = 300

# A staff member's photo (shown with name and 工号 on the rating terminal, 好差评 rules): JPEG or
# PNG up to this size as uploaded; kept only as a thumbnail re-encoded as JPEG (no EXIF), which
# is what the config snapshot carries to stations, so its size stays small.
STAFF_PHOTO_MAX_BYTES = 2 * 1024 * 1024
STAFF_PHOTO_TYPES = ("image/jpeg", "image/png")
STAFF_PHOTO_MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
STAFF_PHOTO_THUMB = (180, 240)  # width, height at most (a 3:4 ID-style portrait, ~10 KB)
STAFF_PHOTO_QUALITY = 80
STAFF_PHOTO_CONTENT_TYPE = "image/jpeg"
STAFF_NUMBER_PATTERN = r"^[A-Za-z0-9-]{1,20}$"

# Zeroconf
ZEROCONF_TYPE = "_hall._tcp.local."
# How long a stopping server waits for a zeroconf registration still probing (about 2 s).
ADVERTISE_STOP_WAIT_S = 5.0

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
# A clerk removed a self-declared green-channel priority that was not justified (with a reason).
EV_TICKET_PRIORITY_REMOVED = "ticket.priority_removed"
# Event types a report reads by time: archiving an event of one of them (event_archive.py) keeps
# a plain copy in report_events, so the report still lists it once its day left the live log.
REPORT_EVENT_TYPES = (EV_TICKET_PRIORITY_REMOVED,)
# Green-channel reasons a visitor declares (the elderly one comes from the ID card and stays).
SELF_DECLARED_GREEN = frozenset({"disabled", "serviceman", "pregnant"})
GREEN_REASON_ZH = {"elderly": "老年人", "disabled": "残疾人", "serviceman": "军人", "pregnant": "孕妇"}
PRIORITY_REMOVABLE_STATUSES = frozenset({"waiting", "called", "serving", "suspended"})
# Closed unserved by the business day's end (payload reason "day_end").
EV_TICKET_EXPIRED = "ticket.expired"
EV_WINDOW_UPDATED = "window.updated"
EV_CLERK_LOGGED_IN = "clerk.logged_in"
EV_CLERK_LOGGED_OUT = "clerk.logged_out"
EV_RATING_REQUESTED = "rating.requested"
EV_RATING_RECORDED = "rating.recorded"
EV_DEVICE_HEARTBEAT = "device.heartbeat"
EV_DEVICE_FAULT = "device.fault"
# A visitor tapped 呼叫工作人员 at a kiosk; a manager acknowledged it on the dashboard (已处理).
EV_STAFF_CALL_REQUESTED = "staff_call.requested"
EV_STAFF_CALL_ACKNOWLEDGED = "staff_call.acknowledged"
EV_HALL_UPDATED = "hall.updated"
EV_TICKET_DOCUMENT_ADDED = "ticket.document_added"
EV_TICKET_DOCUMENT_DELETED = "ticket.document_deleted"
EV_DOCUMENTS_PURGED = "documents.purged"
EV_AUTH_LOGIN = "auth.login"
EV_AUTH_LOGIN_FAILED = "auth.login_failed"
EV_AUTH_LOCKED = "auth.locked"
EV_AUTH_PASSWORD_CHANGED = "auth.password_changed"
EV_AUTH_TOKEN_ROTATED = "auth.token_rotated"
EV_AUTH_TOKEN_REVOKED = "auth.token_revoked"
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
AU_GUIDE_CHANGED = "audit.guide_changed"
AU_HALL_GUIDE_CHANGED = "audit.hall_guide_changed"
AU_SERVICE_CLAIMED = "audit.service_claimed"
AU_CALENDAR_CHANGED = "audit.calendar_changed"
AU_RULES_CHANGED = "audit.rules_changed"
# The catalogue's split of who sets what (docs/managers.md): the city owns a guide's law, time
# limits, materials, fees and steps; a hall handling the item may set only these, its own facts.
HALL_GUIDE_FIELDS = ("location", "consult_phone", "complaint_phone", "daily_cap", "id_required")
# Levels whose managers edit the city's catalogue and calendars (admins always may).
CATALOGUE_OWNER_LEVELS = frozenset({"city"})
# The version given to a guide as it was before its first recorded edit (seeded).
GUIDE_SEED_ACTOR = "seed"
AU_STAFF_CREATED = "audit.staff_created"
AU_STAFF_CHANGED = "audit.staff_changed"
AU_STAFF_PASSWORD_RESET = "audit.staff_password_reset"
AU_STAFF_PHOTO_SET = "audit.staff_photo_set"
AU_STAFF_PHOTO_REMOVED = "audit.staff_photo_removed"
AU_ROSTER_CHANGED = "audit.roster_changed"
AU_WINDOW_HANDED_OVER = "audit.window_handed_over"
AU_WINDOW_ZONE_CHANGED = "audit.window_zone_changed"
AU_ENROLMENT_ISSUED = "audit.enrolment_issued"
AU_DEVICE_ENROLLED = "audit.device_enrolled"
# Staff a manager may create and edit (admins are made on the command line).
STAFF_ROLES = ("clerk", "manager")
# A device enrolment code: how long it stays valid, its alphabet (no 0/O, 1/I/L) and length.
ENROL_CODE_TTL_S = 24 * 3600
ENROL_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
ENROL_CODE_LENGTH = 8
# The longest roster a manager reads or writes at once, in days.
ROSTER_MAX_DAYS = 31
# Events that change static hall configuration held in the per-process cache.
CONFIG_EVENTS = frozenset({EV_HALL_UPDATED})
CALL_EVENTS = (EV_TICKET_CALLED, EV_TICKET_RECALLED, EV_TICKET_CALLED_BACK)

# The one error table: code -> (HTTP status, zh_CN message, English message). Use cases raise
# HallError(code) or a queueing DomainError; the API seam (hall_server.api.errors) maps the code
# to its status here, once.
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
    "auth.expired": (401, "登录已过期，请重新登录", "The session has expired, please log in again"),
    "auth.throttled": (
        429,
        "登录失败次数过多，请稍后再试",
        "Too many failed log-ins, please wait before trying again",
    ),
    "auth.locked": (
        423,
        "登录失败次数过多，账号已临时锁定，请稍后再试或联系管理员",
        "Too many failed log-ins: the account is locked for a while",
    ),
    "auth.weak_password": (422, "新密码不符合密码规则", "The new password does not meet the password policy"),
    "auth.password_reused": (422, "新密码不能与原密码相同", "The new password must differ from the old one"),
    "auth.token_in_url": (
        401,
        "不再支持在地址中携带访问令牌，请使用连接票据或请求头",
        "A token in the URL is no longer accepted; use a socket ticket or the Authorization header",
    ),
    "auth.ticket_invalid": (401, "连接票据无效或已过期", "The socket ticket is invalid, used or expired"),
    "token.unknown": (404, "令牌不存在或已注销", "No such live token"),
    "token.not_device": (
        422,
        "只能轮换或注销设备令牌，登录令牌请退出登录",
        "Only device tokens are rotated or revoked here; sessions end at log-out",
    ),
    "auth.window_required": (422, "窗口人员登录时须选择窗口", "A clerk must log in at a window"),
    "hall.unknown": (404, "大厅不存在", "No such hall"),
    "catalogue.claimed": (409, "本大厅已认领该事项", "This hall already handles that service item"),
    "policy.invalid": (422, "大厅规则不正确", "The hall rules are invalid"),
    "green.not_removable": (
        409,
        "该号码没有可取消的自报绿色通道（老年人由身份证认定）",
        "This ticket has no self-declared priority to remove (elderly comes from the ID card)",
    ),
    "calendar.invalid": (422, "日历内容不正确", "The calendar is invalid"),
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
    "document.not_received": (
        409,
        "材料照片尚未从站点传到本平台，请稍后再看",
        "The photo has not reached this server from its station yet; try again later",
    ),
    "device.unknown_hall": (422, "设备未绑定大厅", "The device is not bound to a hall"),
    "device.other_hall": (
        409,
        "该设备编号已登记在其他大厅，本次心跳未被接受",
        "The device id is registered to another hall; the heartbeat was refused",
    ),
    "staff_call.unknown": (404, "该求助不存在", "No such staff call"),
    "staff_call.too_many": (
        429,
        "呼叫过于频繁，工作人员已在赶来，请稍候",
        "Too many staff calls from this kiosk; staff are on their way",
    ),
    "staff_call.other_device": (409, "该求助编号已被其他设备使用", "The call id belongs to another device"),
    "events.pruned": (
        410,
        "所请求的事件已归档，请重新加载当前状态",
        "Those events were archived; reload the current state and follow from oldest_seq",
    ),
    "staff_call.at_station": (
        409,
        "该求助由站点的工作人员处理，请联系站点",
        "A station's staff answer this call; it is acknowledged at the station",
    ),
    "idempotency.conflict": (409, "重复请求的内容与首次不同", "Same idempotency key, different request"),
    "seed.invalid": (422, "城市数据文件不正确", "The city data file is invalid"),
    # Refusals of the domain core (queueing.errors); their messages come with the error itself.
    "id.invalid": (422, "身份证号码不正确", "Invalid ID number"),
    "issue.daily_cap": (409, "该事项今日号源已取完", "Today's tickets for this service are gone"),
    "issue.closed_hours": (409, "当前不在办理时间", "Outside opening hours"),
    "issue.person_limit": (409, "同一证件今日取号已达上限", "This ID card reached today's ticket limit"),
    "issue.green_not_eligible": (422, "不符合绿色通道条件", "Not eligible for the green channel"),
    "issue.identity_required": (422, "该事项须读取身份证取号", "This service needs an ID card"),
    "rating.reason_required": (422, "差评请选择原因", "A bad rating needs a reason"),
    "rating.invalid_level": (422, "评价等级不正确", "Invalid rating level"),
    "rating.unknown_reason": (422, "评价原因不正确", "Unknown rating reason"),
    "rating.text_too_long": (422, "评价内容过长", "The rating text is too long"),
    "rating.invalid_channel": (422, "评价渠道不正确", "Invalid rating channel"),
    "window.invalid_weight": (422, "窗口队列权重不正确", "Invalid window weight"),
    "window.invalid_zone": (
        422,
        f"窗口分区须为不超过{WINDOW_ZONE_MAX}个字的文字（如“B区”）",
        f"A window's zone is short text of at most {WINDOW_ZONE_MAX} characters (e.g. B区)",
    ),
    "group.invalid_prefix": (422, "队列字母不正确", "Invalid queue prefix"),
    "ticket.transfer_target": (422, "转移目标不正确", "Invalid transfer target"),
    "ticket.transfer_same": (422, "不能转移到当前事项或窗口", "Cannot transfer to the same place"),
    "ticket.window_required": (422, "须指定窗口", "A window is required"),
    # Appointments, follow-ups, matters, statistics and rate limits ({names} come from the detail).
    "booking.day_not_bookable": (
        409,
        "该日期不可预约（须提前1天至5个工作日，且为工作日）",
        "That day cannot be booked",
    ),
    "booking.slot_unknown": (404, "预约时段不存在", "No such appointment slot"),
    "booking.slot_full": (409, "该时段已约满，请选择其他时段", "That slot is fully booked"),
    "booking.person_day_limit": (409, "同一人每天只能预约一次", "One booking per person per day"),
    "booking.blocked": (409, "因多次预约未到，暂停预约至{until}", "Booking blocked after repeated no-shows"),
    "booking.not_found": (404, "预约不存在或身份证号不符", "No such booking for that ID number"),
    "booking.proof_required": (
        403,
        "请输入发送到预约手机的验证码，或带身份证到大厅自助终端取消",
        "Give the code texted to the booking's phone, or cancel at a hall kiosk with the ID card",
    ),
    "booking.no_phone": (
        409,
        "该预约未留手机号，请带身份证到大厅取消",
        "No phone on the booking; cancel at the hall",
    ),
    "booking.not_active": (409, "该预约已取消或已使用", "The booking is no longer active"),
    "booking.cancel_too_late": (409, "距预约时段开始不足2小时，不能取消", "Too late to cancel"),
    "booking.phone_invalid": (422, "手机号码格式不正确", "Invalid mobile phone number"),
    "booking.service_not_bookable": (404, "该事项不在本大厅办理", "The hall does not handle that service"),
    "rate.limited": (429, "请求过于频繁，请{retry_after}秒后再试", "Too many requests; try again later"),
    "checkin.none": (404, "未找到您今天在本大厅的预约", "No booking today at this hall"),
    "checkin.too_early": (409, "未到签到时间，请于{start}前30分钟内签到", "Too early to check in"),
    "checkin.too_late": (409, "已超过签到时间，预约失效", "Too late to check in; the booking lapsed"),
    "checkin.code_unknown": (404, "未找到该预约，请核对预约二维码或预约号", "No booking with that code"),
    "checkin.other_hall": (
        409,
        "该预约不在本大厅办理，请到{hall}签到",
        "The booking is for another hall; check in there",
    ),
    "checkin.cancelled": (409, "该预约已取消，不能签到，请直接取号或重新预约", "The booking was cancelled"),
    "checkin.wrong_day": (409, "该预约的日期是{day}，请在预约当天签到", "The booking is for another day"),
    "followup.unknown": (404, "整改工单不存在", "No such follow-up case"),
    "followup.bad_step": (409, "工单步骤须依次进行", "Follow-up steps must follow in order"),
    "followup.satisfied_required": (
        422,
        "回访须记录群众是否满意",
        "A return visit needs satisfied true/false",
    ),
    "matter.unknown": (404, "办件不存在", "No such matter"),
    "matter.bad_step": (409, "办件环节须依次推进", "Matter steps must follow in order"),
    "matter.not_served": (409, "该号票不在本窗口办理中", "The ticket is not being served at this window"),
    "matter.other_person": (409, "该办件属于其他申请人", "The matter belongs to someone else"),
    "stats.bad_period": (
        422,
        "统计期间不正确（起止日期，最长两年）",
        "Invalid period (from..to, at most two years)",
    ),
    "stats.bad_group": (422, "不支持的分组方式", "Unsupported grouping"),
    # Station sync (docs/sync.md).
    "staff.unknown": (404, "该工作人员不存在或不在您的管辖范围内", "No such staff member in your halls"),
    "staff.username_taken": (409, "该登录名已被使用", "This username is taken"),
    "staff.number_taken": (409, "该工号已被使用", "This staff number is taken"),
    "staff.photo_empty": (422, "照片为空", "The photo is empty"),
    "staff.photo_type": (415, "照片须为JPEG或PNG格式", "A staff photo must be a JPEG or PNG"),
    "staff.photo_too_large": (413, "照片超过2MB，请压缩后再上传", "The photo is larger than 2 MB"),
    "staff.photo_unreadable": (
        422,
        "照片无法识别（文件损坏或尺寸过大）",
        "The photo cannot be read (damaged, or too many pixels)",
    ),
    "staff.no_photo": (404, "该工作人员没有照片", "This staff member has no photo"),
    "staff.self": (
        422,
        "不能停用本人账号或更改本人角色",
        "You cannot disable or change the role of your own account",
    ),
    "auth.window_occupied": (
        409,
        "该窗口已有工作人员登录，请先由该工作人员退出，或请管理员办理窗口交接",
        "Another clerk is signed in at this window; they log out or a manager hands the window over",
    ),
    "auth.not_rostered": (
        403,
        "您今天未排班在该窗口，请在排班的窗口登录或联系管理员",
        "You are not rostered at this window now",
    ),
    "sitting.unknown": (404, "该排班不存在", "No such roster line"),
    "sitting.overlap": (409, "排班时间与已有排班重叠", "The roster line overlaps another"),
    "sitting.invalid": (422, "排班内容不正确", "The roster line is invalid"),
    "enrol.code_invalid": (
        404,
        "登记码无效、已使用或已过期",
        "The enrolment code is invalid, used or expired",
    ),
    "sync.managed_by_city": (
        409,
        "本站点的该项数据由市级平台统一管理，请在市级平台修改",
        "This is managed by the city server; change it there",
    ),
    "sync.booking_at_city": (
        409,
        "本站点不受理网上预约，请通过市级网上预约平台预约或取消",
        "This station takes no bookings; book or cancel on the city's booking page",
    ),
    "sync.managed_by_station": (
        409,
        "该大厅的预约签到由其所属站点办理，请在站点的自助机上签到",
        "This hall is run by a station: check-in and no-shows are recorded there",
    ),
    "sync.wrong_hall": (
        403,
        "站点只能上报本站点所属大厅的数据，本批次未被接受",
        "A station may only send its own halls' records; nothing of the batch was applied",
    ),
    "sync.gap": (
        409,
        "上报数据不连续，请从{expected}号记录起重新上报",
        "The batch leaves a gap in the hall's log; resend from the expected seq",
    ),
    "sync.epoch_changed": (
        409,
        "站点数据库已重建或更换，已拒绝合并，请联系市级平台管理员",
        "The station's database was re-created or another machine uses its identity; refused",
    ),
    "sync.rewound": (
        409,
        "站点数据库已回退到旧备份，已拒绝合并，请联系市级平台管理员",
        "The station's database went back to an older copy; refused, never merged",
    ),
    "sync.revoked": (
        401,
        "站点凭证已被市级平台注销",
        "The station's credential was revoked by the city",
    ),
    "sync.not_station": (409, "本服务器不是站点", "This server is not a station"),
    "sync.unreachable": (
        503,
        "无法连接上级平台，数据已在本地保存，恢复后自动上报",
        "The parent server cannot be reached; records are kept and sent when the link returns",
    ),
    "sync.bad_row": (422, "上报的数据行不正确", "A row of the batch is invalid"),
    "sync.bad_photo": (
        422,
        "上报的材料照片与其记录不符（无法解密或内容不一致），未被接受",
        "The photo does not match its document (it does not decrypt or its digest differs); refused",
    ),
    "sync.no_document": (
        409,
        "该材料的记录尚未上报，请先上报记录再传照片",
        "The document's record has not reached this server yet; send the records first",
    ),
    "sync.busy": (
        503,
        "上级平台正在接收其他站点的数据，稍后自动重试",
        "The parent is taking other stations' batches; the station retries shortly",
    ),
    "station.unknown": (404, "站点不存在", "No such station"),
    "station.exists": (409, "站点编号已存在", "A station with that id exists"),
    "station.hall_taken": (
        409,
        "该大厅已属于其他站点（已撤销的站点可用 station remove 释放）",
        "The hall belongs to another station (a revoked one frees it with station remove)",
    ),
    "station.active": (
        409,
        "站点尚未撤销，请先撤销（station revoke）",
        "The station is not revoked; revoke it first (station revoke)",
    ),
}


# --- station sync (docs/sync.md) ------------------------------------------------------------------
SYNC_SECONDS_DEFAULT = 2.0
SYNC_TIMEOUT_DEFAULT_S = 5.0
SYNC_BATCH_DEFAULT = 2000
# Pushes a station has in flight at most (pipelined: the next batch goes while the parent applies
# one, which takes them in order); 1 waits for each answer before sending the next.
SYNC_PUSH_WINDOW_DEFAULT = 2
# Bounds of one push: events, row images, and the body (the request guard's limit for the path).
SYNC_MAX_EVENTS = 5000
SYNC_MAX_ROWS = 20000
SYNC_MAX_BODY_BYTES = 16 * 1024 * 1024
# A station's own integer ids start at station_no * STATION_ID_SPAN; the city stays below it.
STATION_ID_SPAN = 10**10
STATION_NO_MAX = 900_000_000
STATION_SILENT_ALERT_S = 600.0
# Failed rounds back off exponentially with jitter up to this many seconds.
SYNC_BACKOFF_MAX_S = 30.0
# A station whose parent could not be connected to at all knocks (GET /health) this often, so a
# link that comes back carries the waiting batch within a fraction of a second, not after the whole
# back-off (a refused connect costs the parent nothing; a black-holed one waits its connect timeout).
SYNC_PROBE_S = 0.25
# While the link is down the station keeps its first batch read and encoded (sent the moment a
# knock is answered); one that was not full is read again at most this often.
SYNC_DOWN_READ_S = 5.0
# After a round that moved nothing either way the next comes this many sync_seconds later (a
# local commit still wakes the loop at once): 200 idle stations polling every 2 s would cost
# the city a push and a pull 100 times a second.
SYNC_IDLE_FACTOR = 5
# The parent applies this many pushes at once (one: the other core stays with the city's own
# kiosks and windows); this many more may wait their turn, each at most SYNC_PUSH_WAIT_S (well
# inside a station's SYNC_TIMEOUT_DEFAULT_S, so an admitted push is answered before the station
# gives up on it), holding no thread and no database connection; any other push is answered 503
# sync.busy at once, before its body is read, and the station sends the same batch again after
# retry_after_s (no back-off: the link is fine): its turn in a book of turns the parent keeps
# (each as long as a push takes), 1 s .. SYNC_BUSY_RETRY_MAX_S.
SYNC_PUSH_SLOTS = 1
SYNC_PUSH_QUEUE = 3
SYNC_PUSH_WAIT_S = 1.5
SYNC_BUSY_RETRY_S = 1.0
SYNC_BUSY_RETRY_MAX_S = 60.0
# The parent's own kiosks and windows first (hall_server/priority.py): a push waits for the hot
# requests in flight before it is applied and between its steps, in steps of SYNC_YIELD_STEP_S
# and at most SYNC_YIELD_BUDGET_S per push: long enough for the requests in flight to finish
# (a kiosk request takes ~10-20 ms), short enough that sync still moves when the kiosks never
# pause (a 1 s budget let a fleet of 200 apply one push a second under a saturated city); while a hot request ran within
# SYNC_HOT_RECENT_S the answer asks the station for batches of at most SYNC_BATCH_UNDER_LOAD
# (a 3 MB batch holds the GIL for ~50 ms while it is parsed; 500 events for ~8 ms).
SYNC_YIELD_STEP_S = 0.002
SYNC_YIELD_BUDGET_S = 0.15
SYNC_HOT_RECENT_S = 1.0
SYNC_BATCH_UNDER_LOAD = 500
# A serving process hands the GIL to a waiting thread after this long (Python's default: 5 ms).
# A kiosk or window request returns from the database five or six times per transaction and
# must take the GIL back each time; while a station's batch is decoded on another thread it
# waited up to 5 ms each time, with its hall's number-counter and seq rows locked meanwhile,
# so the hall's issues ran at most ~35 a second one after another (issue 11, the fleet).
GIL_SWITCH_INTERVAL_S = 0.0005
# Document photos go up on their own channel after the records (sync/photos.py): the parent
# names at most SYNC_PHOTOS_WANTED of the photos it lacks per ask, a station sends at most
# SYNC_PHOTO_ROUND_BYTES of them per round (a slow link still carries the records each round),
# and one photo's ciphertext is at most SYNC_PHOTO_MAX_BYTES (the JPEG bound plus the cipher's
# version byte, nonce and tag, with room to spare).
SYNC_PHOTOS_WANTED = 50
# A station pages through what its parent lacks (GET /sync/photos?after=<last id>) past photos the
# parent refused, at most this many pages a round; the next round goes on after the last page.
SYNC_PHOTO_PAGES_PER_ROUND = 20
SYNC_PHOTO_ROUND_BYTES = 12 * 1024 * 1024
SYNC_PHOTO_MAX_BYTES = DOCUMENT_MAX_BYTES + 1024
# A parent reuses the configuration snapshot it built for a station's halls while its config
# generation (bumped by triggers on every configuration table, migration 0020) is unchanged, at
# most this long (a session token's expiry changes the snapshot without a write), for this many
# sets of halls per database (least recently pulled dropped first).
CONFIG_CACHE_TTL_S = 60.0
CONFIG_CACHE_MAX = 1024
# The parent's event stream for a station-owned hall gets this suffix (events.stream_of).
CITY_STREAM_SUFFIX = "@city"
LINK_STATES = ("ok", "down", "refused", "revoked", "rewound", "epoch_conflict")

# --- appointments, follow-ups, matters, statistics, notifications, devices ----------------------
# Where the working-day calendars live (assets/calendar/CN-<year>.json, <city>-<year>.json).
CALENDAR_DIR_NAME = "calendar"
CALENDAR_COUNTRY = "CN"
# The dashboard flags this year and the next ones without a verified calendar.
CALENDAR_YEARS_SHOWN = 2

# Policy keys read from Hall.policy (each optional; defaults below or in queueing.calendar.BookingRules).
POLICY_BOOKING = "booking"
POLICY_FOLLOWUP_DAYS = "followup_working_days"
POLICY_TARGET_WAIT = "target_wait_minutes"
POLICY_ALERT_QUEUE = "alert_queue_length"
POLICY_ALERT_WAIT = "alert_wait_minutes"
POLICY_NEAR_AHEAD = "notify_people_ahead"
POLICY_DAY_END_GRACE = "day_end_grace_minutes"

DEFAULT_FOLLOWUP_WORKING_DAYS = 15  # Sichuan's rule for answering and fixing a bad rating
DEFAULT_SLOT_CAPACITY = 4
DEFAULT_ALERT_QUEUE_LENGTH = 30
DEFAULT_NEAR_AHEAD = 3
# A device that has not sent a heartbeat for this long is shown offline: three missed beats of the
# kiosks' 30-second heartbeat (kiosk.const.HEARTBEAT_S) and a margin. Settings.device_stale_seconds overrides.
DEVICE_STALE_SECONDS = 100
# Staff calls (呼叫工作人员): who may make one, how many a kiosk may make per window of time by
# default (Settings.staff_calls_per_device / staff_call_rate_window_s, HALL_STAFF_CALLS_PER_DEVICE,
# HALL_STAFF_CALL_RATE_WINDOW_S; a frightened visitor tapping again is answered with the open call,
# not a new one), and how long an unacknowledged call stays on the dashboard (a forgotten one does
# not stay there for days).
STAFF_CALL_ROLES = ("kiosk",)
STAFF_CALLS_PER_DEVICE = 5
STAFF_CALL_RATE_WINDOW_S = 600
STAFF_CALL_ALERT_S = 4 * 3600
STAFF_CALL_DEVICE_NAME_ZH = "自助取号机"
# The dashboard alert of an open staff call (it carries the 已处理 button).
STAFF_CALL_ALERT = "staff.call"
# Faults that warn without taking the device out of service (it still prints).
DEVICE_WARNING_FAULTS = frozenset({"printer.paper_low", "paper_low"})

APPOINTMENT_CODE_LEN = 8
APPOINTMENT_STATUSES = ("booked", "cancelled", "checked_in", "no_show")

# Outbox delivery: retries back off up to this many attempts, then wait for a manual flush.
OUTBOX_MAX_ATTEMPTS = 8
OUTBOX_BACKOFF_S = (10, 30, 60, 300, 900, 1800, 3600)
# Events of one hall a notification pass reads at most (the rest in the next pass).
NOTIFY_SCAN = 5000

# Rate limits of the public booking endpoints (in-process token buckets): requests per minute,
# which is also the burst (Settings.rate_*, HALL_RATE_<NAME>; 0 turns one off). Settings.rate_exempt
# (HALL_RATE_EXEMPT) lists addresses or networks (a portal's gateway) that are never limited.
RATE_LIMITS_DEFAULT: dict[str, int] = {
    "book_per_address": 10,  # bookings from one address (a phone, a hall's Wi-Fi NAT)
    "book_per_person": 5,  # bookings with one ID number, from anywhere
    "lookup_per_address": 30,  # look-ups and cancellations: booking codes cannot be probed
    "lookup_per_person": 10,
    "slots_per_address": 60,  # slot listings (they create a new day's slots on first look)
}
RATE_MAX_KEYS = 50_000  # buckets kept before full ones are forgotten

# Waiting-time histogram buckets (minutes) for the dashboard.
WAIT_BUCKETS_MIN = (5, 10, 15, 20, 30, 45, 60, 90)
# Statistics rollups (services/stat_rollups.py): business days rebuilt per query of the pass
# (bounds its memory: a city's day is about 8,000 tickets), the PostgreSQL advisory lock key
# that keeps two passes apart.
STAT_ROLLUP_DAYS_PER_STEP = 16
STAT_ROLLUP_LOCK = 0x5157_0016

EV_FOLLOWUP_OPENED = "followup.opened"
EV_FOLLOWUP_STEP = "followup.step"
EV_APPOINTMENT_BOOKED = "appointment.booked"
EV_APPOINTMENT_CANCELLED = "appointment.cancelled"
EV_APPOINTMENT_CHECKED_IN = "appointment.checked_in"
EV_APPOINTMENT_NO_SHOW = "appointment.no_show"
# The city: a station checked in a booking the city had cancelled meanwhile (docs/sync.md).
EV_APPOINTMENT_CONFLICT = "appointment.attendance_conflict"
EV_MATTER_RECORDED = "matter.recorded"
EV_MATTER_STEP = "matter.step"

# The big screen's map of the halls below (services/bigscreen.py): at most this many halls are
# drawn (a city of many villages stays readable; the rest are counted), and a hall is "busy" with
# more people waiting than this or someone waiting this many minutes.
BIGSCREEN_MAP_HALLS = 60
BIGSCREEN_BUSY_WAITING = 20
BIGSCREEN_BUSY_WAIT_MINUTES = 30
# A serving process hands the memory glibc's allocator holds free back to the kernel this often
# (malloc_trim; hall_server/malloc_trim.py). Event texts made on the writing thread and replay
# pages made in worker threads are freed on the event loop's: their arenas kept 80 MB free after
# a quick soak's burst, and RSS never came back to the warm baseline.
MALLOC_TRIM_S = 30.0
