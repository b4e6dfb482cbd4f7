"""Issue 9, holes 1, 5 and 8: the per-person limit under concurrency, rating replays, rating events."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from hall_server import audit
from hall_server.auth import authenticate
from hall_server.config import Settings
from hall_server.context import ServerContext
from hall_server.db.models import Ticket
from hall_server.errors import HallError
from hall_server.services import tickets
from queueing.errors import IssueRefused
from tests.hall_server.conftest import API, Hall, error_code
from tests.hall_server.hs_city import CITY, ID_YOUNG

LIMIT = 2  # the tiny city's per_person_daily_limit


def test_person_limit_holds_under_concurrency(hall: Hall) -> None:
    """Twenty issues at once with one ID card, from two server contexts, give exactly the limit."""
    other = ServerContext.create(Settings(data_dir=hall.data_dir, db_url=hall.db_url, pool_size=10))
    try:
        with hall.ctx.db.read_conn() as conn:
            p = authenticate(conn, hall.tokens[f"kiosk:{CITY}"])
        n = 20
        barrier = threading.Barrier(n)
        outcomes: list[str] = []
        lock = threading.Lock()

        def issue(i: int) -> None:
            ctx = hall.ctx if i % 2 else other
            barrier.wait()
            try:
                tickets.issue_ticket(ctx, p, CITY, tickets.IssueInput("S-A1", "kiosk", id_number=ID_YOUNG))
                result = "ok"
            except (IssueRefused, HallError) as err:
                result = getattr(err, "code", type(err).__name__)
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=issue, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes.count("ok") == LIMIT, outcomes
        with hall.ctx.db.read() as s:
            count = s.execute(
                select(func.count()).select_from(Ticket).where(Ticket.id_hmac.is_not(None))
            ).scalar()
        assert count == LIMIT
        # Concurrent appends from two contexts still form one unbroken chain.
        assert audit.verify_all(hall.ctx.db, CITY)[0].ok
    finally:
        other.close()


def _rate(hall: Hall, ticket_id: int, who: str | None, **body: Any) -> Any:
    payload = {"ticket_id": ticket_id, "level": 1, "reasons": ["服务态度"], "text": "张三 13800000000 太慢"}
    payload.update(body)
    headers = hall.auth(who) if who else {}
    return hall.client.post(f"{API}/ratings", json=payload, headers=headers)


def test_rating_replay_needs_permission_and_same_device(hall: Hall) -> None:
    """A known client_id gives nothing away without a token, or to another device."""
    t = hall.served()
    first = _rate(hall, t["id"], f"rating:{CITY}:1", client_id="dev1-0001")
    assert first.status_code == 201, first.text
    # No token at all: refused, and nothing of the rating in the answer.
    anon = _rate(hall, t["id"], None, client_id="dev1-0001", track_token="guess", channel="qr")
    assert anon.status_code == 401
    assert "太慢" not in anon.text
    # Another device of the hall replaying the id: not the first rating.
    other = _rate(hall, t["id"], f"rating:{CITY}:2", client_id="dev1-0001")
    assert other.status_code in (403, 409)
    assert "太慢" not in other.text
    # The same device retrying gets its rating back (200).
    again = _rate(hall, t["id"], f"rating:{CITY}:1", client_id="dev1-0001")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_rating_events_carry_no_free_text_or_client_id(hall: Hall) -> None:
    """Displays subscribe to the hall: the comment and client id stay out of rating.recorded."""
    t = hall.served()
    r = _rate(hall, t["id"], f"rating:{CITY}:1", client_id="dev1-0002")
    assert r.status_code == 201
    recorded = [e for e in hall.events() if e["type"] == "rating.recorded"]
    assert recorded
    text = str(recorded[-1])
    assert "太慢" not in text and "13800000000" not in text and "dev1-0002" not in text
    assert recorded[-1]["payload"]["rating"]["level"] == 1


def test_visitor_phone_replay_needs_the_track_token(hall: Hall) -> None:
    """A phone rating replayed without the ticket's tracking token is refused."""
    t = hall.served()
    first = _rate(hall, t["id"], None, client_id="phone-1", track_token=t["track_token"], channel="qr")
    assert first.status_code == 201, first.text
    for wrong in ("nope", "二维码"):
        bad = _rate(hall, t["id"], None, client_id="phone-1", track_token=wrong, channel="qr")
        assert bad.status_code == 401 and error_code(bad) == "auth.invalid"
    again = _rate(hall, t["id"], None, client_id="phone-1", track_token=t["track_token"], channel="qr")
    assert again.status_code == 200
