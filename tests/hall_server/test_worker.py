"""The background passes never hold up the hall: a hanging SMS gateway leaves issuing and calling alone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hall_server.db.models import OutboxMessage
from hall_server.services import notify
from tests.hall_server.conftest import API, Hall
from tests.hall_server.hs_city import CITY

GATEWAY_HANG_S = 10.0


class HangingGateway:
    """An SMS gateway that does not answer until released (or for GATEWAY_HANG_S)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, phone: str | None, text: str, kind: str, payload: dict[str, Any]) -> None:
        self.entered.set()
        self.release.wait(GATEWAY_HANG_S)
        self.sent.append(text)


def test_a_hanging_gateway_does_not_delay_issue_or_call_next(hall: Hall) -> None:
    now = datetime.now(UTC)
    with hall.ctx.db.write() as s:
        notify.enqueue(
            s,
            hall.ctx.protector,
            dedupe_key="test:1",
            kind="test",
            hall_id=CITY,
            phone="13800000000",
            text="您的号快到了",
            payload={},
            due=now,
            now=now,
        )
    gateway = HangingGateway()
    result: dict[str, int] = {}
    sender = threading.Thread(
        target=lambda: result.update(notify.flush(hall.ctx.db, hall.ctx.protector, gateway, now)), daemon=True
    )
    sender.start()
    try:
        assert gateway.entered.wait(10), "the outbox never reached the gateway"
        # The gateway is hanging now: a kiosk issues and a clerk calls as usual.
        ticket = hall.ok_issue("S-A1")
        called = hall.client.post(
            f"{API}/windows/{hall.wid(1)}/call-next", headers=hall.auth(f"clerk:{CITY}:1")
        )
        assert called.status_code == 200 and called.json()["id"] == ticket["id"]
        assert not gateway.release.is_set() and sender.is_alive()  # all of that while it still hung
    finally:
        gateway.release.set()
        sender.join(GATEWAY_HANG_S + 5)
    assert result == {"sent": 1, "failed": 0} and gateway.sent == ["您的号快到了"]
    with hall.ctx.db.read() as s:
        row = s.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key == "test:1")).scalar_one()
        assert row.sent_at is not None and row.attempts == 1


def test_a_claimed_message_is_not_sent_twice_by_a_second_flusher(hall: Hall) -> None:
    now = datetime.now(UTC)
    with hall.ctx.db.write() as s:
        notify.enqueue(
            s,
            None,
            dedupe_key="test:2",
            kind="test",
            hall_id=CITY,
            phone=None,
            text="x",
            payload={},
            due=now,
            now=now,
        )
    gateway = HangingGateway()
    sender = threading.Thread(target=notify.flush, args=(hall.ctx.db, None, gateway, now), daemon=True)
    sender.start()
    try:
        assert gateway.entered.wait(10)
        other = HangingGateway()
        other.release.set()
        # Another process's flusher finds nothing to send: the message is claimed.
        assert notify.flush(hall.ctx.db, None, other, now) == {"sent": 0, "failed": 0} and other.sent == []
    finally:
        gateway.release.set()
        sender.join(GATEWAY_HANG_S + 5)
    assert gateway.sent == ["x"]
