"""Devices: heartbeats with their faults, and the server's health answer."""

from __future__ import annotations

from pydantic import Field

from wire.base import WireIn, WireOut


class FaultIn(WireIn):
    """One device fault."""

    code: str = Field(min_length=1, max_length=64)
    message: str = Field(default="", max_length=500)


class HeartbeatIn(WireIn):
    """A device's heartbeat (answered 204)."""

    device_id: str = Field(min_length=1, max_length=100)
    kind: str = Field(min_length=1, max_length=40)
    status: str = Field(min_length=1, max_length=40)
    faults: list[FaultIn] = Field(default_factory=list, max_length=50)
    hall_id: str | None = None
    # The device's software version, shown on the managers' device page.
    version: str | None = Field(default=None, max_length=40)


class HealthOut(WireOut):
    """Liveness; `pid` tells apart the workers behind one port."""

    status: str
    version: str
    hall_id: str | None
    pid: int


class StaffCallIn(WireIn):
    """A kiosk's call for floor staff; `call_id` is the kiosk's key for it (a resend is the same call)."""

    call_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class StaffCallOut(WireOut):
    """A staff call: where (the device's name), when, and who acknowledged it (None while open)."""

    id: str
    hall_id: str
    device_name: str
    requested_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
