"""The tables of the hall server, one module per domain; every name is importable from here."""

from __future__ import annotations

from hall_server.db.models.appointments import (
    ACTIVE_BOOKING_SQL,
    PERSON_DAY_INDEX,
    Appointment,
    AppointmentAttendance,
    AppointmentSlot,
)
from hall_server.db.models.audit import AuditCheck, ServerMeta
from hall_server.db.models.base import Base
from hall_server.db.models.devices import Device, DeviceEnrolment, StaffCall
from hall_server.db.models.documents import TicketDocument
from hall_server.db.models.events import Event, EventArchive, HallSeq, ReportEvent
from hall_server.db.models.followups import FollowupCase, FollowupStep
from hall_server.db.models.halls import (
    Hall,
    HallService,
    HallSettings,
    QueueGroup,
    ServiceItem,
    ServiceItemVersion,
    WorkCalendarYear,
)
from hall_server.db.models.matters import Matter, MatterStep, MatterVisit
from hall_server.db.models.notify import NotifyCursor, OutboxMessage
from hall_server.db.models.ratings import Rating
from hall_server.db.models.staff import ApiToken, LoginThrottle, Sitting, SocketTicket, User
from hall_server.db.models.stats import StatDirty, StatRollup
from hall_server.db.models.sync import (
    ConfigGeneration,
    Station,
    StationHall,
    SyncAck,
    SyncChange,
    SyncDownChange,
    SyncState,
)
from hall_server.db.models.tickets import BOUND_WAITING, OPEN_TICKETS, NumberCounter, Ticket, WaitingCount
from hall_server.db.models.windows import Window

__all__ = [
    "ACTIVE_BOOKING_SQL",
    "BOUND_WAITING",
    "OPEN_TICKETS",
    "PERSON_DAY_INDEX",
    "ApiToken",
    "Appointment",
    "AppointmentAttendance",
    "AppointmentSlot",
    "AuditCheck",
    "Base",
    "ConfigGeneration",
    "Device",
    "DeviceEnrolment",
    "Event",
    "EventArchive",
    "FollowupCase",
    "FollowupStep",
    "Hall",
    "HallSeq",
    "HallService",
    "HallSettings",
    "LoginThrottle",
    "Matter",
    "MatterStep",
    "MatterVisit",
    "NotifyCursor",
    "NumberCounter",
    "OutboxMessage",
    "QueueGroup",
    "Rating",
    "ReportEvent",
    "ServerMeta",
    "ServiceItem",
    "ServiceItemVersion",
    "Sitting",
    "SocketTicket",
    "StaffCall",
    "StatDirty",
    "StatRollup",
    "Station",
    "StationHall",
    "SyncAck",
    "SyncChange",
    "SyncDownChange",
    "SyncState",
    "Ticket",
    "TicketDocument",
    "User",
    "WaitingCount",
    "Window",
    "WorkCalendarYear",
]
