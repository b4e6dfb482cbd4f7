"""Constants of the appointment, follow-up, matter, statistics and notification services."""

from __future__ import annotations

# Where the working-day calendars live (assets/calendar/CN-<year>.json, <city>-<year>.json).
CALENDAR_DIR_NAME = "calendar"
CALENDAR_COUNTRY = "CN"

# Policy keys read from Hall.policy (each optional; defaults below or in queueing.calendar.BookingRules).
POLICY_BOOKING = "booking"
POLICY_FOLLOWUP_DAYS = "followup_working_days"
POLICY_TARGET_WAIT = "target_wait_minutes"
POLICY_ALERT_QUEUE = "alert_queue_length"
POLICY_ALERT_WAIT = "alert_wait_minutes"
POLICY_NEAR_AHEAD = "notify_people_ahead"
POLICY_DAY_END_GRACE = "day_end_grace_minutes"

BAD_LEVEL_MAX = 2  # 不满意, 非常不满意
DEFAULT_FOLLOWUP_WORKING_DAYS = 15  # Sichuan's rule for answering and fixing a bad rating
DEFAULT_SLOT_CAPACITY = 4
DEFAULT_ALERT_QUEUE_LENGTH = 30
DEFAULT_NEAR_AHEAD = 3
# A device that has not sent a heartbeat for this long is shown offline.
DEVICE_STALE_SECONDS = 120

APPOINTMENT_CODE_LEN = 8
APPOINTMENT_STATUSES = ("booked", "cancelled", "checked_in", "no_show")

# Follow-up steps after "open", in order; each step needs the previous one.
FOLLOWUP_STEPS = ("open", "verified", "answered", "fixed", "revisited", "closed")
FOLLOWUP_STEP_ZH = {
    "open": "待核实",
    "verified": "已核实",
    "answered": "已回复",
    "fixed": "已整改",
    "revisited": "已回访",
    "closed": "已办结",
}

MATTER_STEPS = ("accepted", "under_review", "decided", "licence_made", "finished")
MATTER_STEP_ZH = {
    "accepted": "已受理",
    "under_review": "审查中",
    "decided": "已决定",
    "licence_made": "已制证",
    "finished": "已办结",
}

# Outbox delivery: retries back off up to this many attempts, then wait for a manual flush.
OUTBOX_MAX_ATTEMPTS = 8
OUTBOX_BACKOFF_S = (10, 30, 60, 300, 900, 1800, 3600)
NOTIFIER_ENV = "HALL_NOTIFIER"

# Rate limits of the public booking endpoints (in-process token buckets): requests per minute,
# which is also the burst. Each is overridable by its environment variable; 0 turns it off.
# HALL_RATE_EXEMPT lists addresses or networks (a portal's gateway) that are never limited.
RATE_LIMITS_DEFAULT: dict[str, int] = {
    "book_per_address": 10,  # bookings from one address (a phone, a hall's Wi-Fi NAT)
    "book_per_person": 5,  # bookings with one ID number, from anywhere
    "lookup_per_address": 30,  # look-ups and cancellations: booking codes cannot be probed
    "lookup_per_person": 10,
    "slots_per_address": 60,  # slot listings (they create a new day's slots on first look)
}
RATE_ENV_PREFIX = "HALL_RATE_"  # HALL_RATE_BOOK_PER_ADDRESS=20 ...
RATE_EXEMPT_ENV = "HALL_RATE_EXEMPT"
RATE_MAX_KEYS = 50_000  # buckets kept before full ones are forgotten

# Waiting-time histogram buckets (minutes) for the dashboard.
WAIT_BUCKETS_MIN = (5, 10, 15, 20, 30, 45, 60, 90)

EV_FOLLOWUP_OPENED = "followup.opened"
EV_FOLLOWUP_STEP = "followup.step"
EV_APPOINTMENT_BOOKED = "appointment.booked"
EV_APPOINTMENT_CANCELLED = "appointment.cancelled"
EV_APPOINTMENT_CHECKED_IN = "appointment.checked_in"
EV_APPOINTMENT_NO_SHOW = "appointment.no_show"
EV_MATTER_RECORDED = "matter.recorded"
EV_MATTER_STEP = "matter.step"

# My error codes: (HTTP status, zh_CN, English).
EXT_ERRORS: dict[str, tuple[int, str, str]] = {
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
    "booking.not_active": (409, "该预约已取消或已使用", "The booking is no longer active"),
    "booking.cancel_too_late": (409, "距预约时段开始不足2小时，不能取消", "Too late to cancel"),
    "booking.phone_invalid": (422, "手机号码格式不正确", "Invalid mobile phone number"),
    "booking.service_not_bookable": (404, "该事项不在本大厅办理", "The hall does not handle that service"),
    "rate.limited": (429, "请求过于频繁，请{retry_after}秒后再试", "Too many requests; try again later"),
    "checkin.none": (404, "未找到您今天在本大厅的预约", "No booking today at this hall"),
    "checkin.too_early": (409, "未到签到时间，请于{start}前30分钟内签到", "Too early to check in"),
    "checkin.too_late": (409, "已超过签到时间，预约失效", "Too late to check in; the booking lapsed"),
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
}
