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
# A device that has not sent a heartbeat for this long is shown offline: three missed beats of the
# kiosks' 30-second heartbeat (kiosk.const.HEARTBEAT_S) and a margin. HALL_DEVICE_STALE_SECONDS overrides.
DEVICE_STALE_SECONDS = 100
DEVICE_STALE_ENV = "HALL_DEVICE_STALE_SECONDS"
# Faults that warn without taking the device out of service (it still prints).
DEVICE_WARNING_FAULTS = frozenset({"printer.paper_low", "paper_low"})

APPOINTMENT_CODE_LEN = 8
APPOINTMENT_STATUSES = ("booked", "cancelled", "checked_in", "no_show")

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
