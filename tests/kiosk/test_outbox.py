"""The rating outbox keeps ratings across restarts and drops nothing silently."""

from __future__ import annotations

from kiosk.errors import Conflict, ServerUnreachable
from kiosk.outbox import RatingOutbox


def test_outbox_survives_restart_and_keeps_order(tmp_path):
    box = RatingOutbox(tmp_path / "o.json")
    a = box.add({"ticket_id": 1, "level": 5})
    b = box.add({"ticket_id": 2, "level": 1, "reasons": ["服务态度"], "text": "太慢"})
    assert a["client_id"] != b["client_id"]
    again = RatingOutbox(tmp_path / "o.json")  # a new process after a power cut
    assert [r["ticket_id"] for r in again.pending()] == [1, 2]
    assert again.pending()[1]["text"] == "太慢"


def test_flush_stops_when_offline_and_resumes(tmp_path):
    box = RatingOutbox(tmp_path / "o.json")
    for i in range(3):
        box.add({"ticket_id": i, "level": 4})
    sent: list[int] = []

    def down(_r):
        raise ServerUnreachable()

    assert box.flush(down) == 0
    assert len(box.pending()) == 3

    def up(r):
        sent.append(r["ticket_id"])

    assert box.flush(up) == 3
    assert sent == [0, 1, 2] and box.pending() == []


def test_refused_rating_is_kept_as_rejected(tmp_path):
    box = RatingOutbox(tmp_path / "o.json")
    box.add({"ticket_id": 9, "level": 5})

    def refuse(_r):
        raise Conflict(409, "rating.duplicate", "该号码已评价")

    assert box.flush(refuse) == 0
    assert box.pending() == []
    assert box.rejected()[0]["error"]["code"] == "rating.duplicate"


def test_broken_file_is_set_aside(tmp_path):
    p = tmp_path / "o.json"
    p.write_text("{not json", encoding="utf-8")
    box = RatingOutbox(p)
    assert box.pending() == []
    assert (tmp_path / "o.broken").exists()
