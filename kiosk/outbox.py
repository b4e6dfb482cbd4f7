"""Small local outbox files: ratings and staff calls made while the server is unreachable are kept
and sent later."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiosk.errors import ApiError, KioskError, ServerError

logger = logging.getLogger(__name__)


class RatingOutbox:
    """Pending ratings in a JSON file (written atomically); each carries a client_id so a resend is idempotent.

    A rating the server refuses for good (4xx) is moved to a `rejected` list in the same file
    with the server's reason, never silently dropped.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._queue = QueueFile(self.path, "outbox")

    def add(self, rating: dict[str, Any]) -> dict[str, Any]:
        """Store a rating (gives it a client_id if it has none) and return it."""
        rating = dict(rating)
        rating.setdefault("client_id", uuid.uuid4().hex)
        with self._queue.edit() as data:
            if not any(r["client_id"] == rating["client_id"] for r in data["pending"]):
                data["pending"].append(rating)
        return rating

    def pending(self) -> list[dict[str, Any]]:
        """Ratings not yet acknowledged by the server."""
        return self._queue.pending()

    def rejected(self) -> list[dict[str, Any]]:
        """Ratings the server refused, with its reason."""
        return self._queue.rejected()

    def _remove(self, client_id: str, reject_reason: dict[str, Any] | None = None) -> None:
        with self._queue.edit() as data:
            keep = []
            for r in data["pending"]:
                if r["client_id"] == client_id:
                    if reject_reason is not None:
                        data["rejected"].append({**r, "error": reject_reason})
                else:
                    keep.append(r)
            data["pending"] = keep

    def flush(self, send: Any) -> int:
        """Send every pending rating with send(rating) in order; stop at the first network failure.

        Returns how many were delivered.
        """
        sent = 0
        for rating in self.pending():
            try:
                send(rating)
            except ServerError:
                return sent  # the server is struggling; try again later
            except ApiError as exc:
                logger.warning("rating %s refused: %s", rating["client_id"], exc)
                self._remove(rating["client_id"], {"code": exc.code, "message": exc.message_zh})
                continue
            except KioskError:
                return sent
            self._remove(rating["client_id"])
            sent += 1
        return sent


class StaffCallOutbox:
    """呼叫工作人员 calls the server has not had yet, by call id (a resend is the same call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._queue = QueueFile(self.path, "staff-call outbox")

    def keep(self, hall_id: str, call_id: str) -> None:
        """Remember a call until the server has it."""
        with self._queue.edit() as data:
            if not any(c["call_id"] == call_id for c in data["pending"]):
                data["pending"].append({"hall_id": hall_id, "call_id": call_id})

    def forget(self, call_id: str) -> None:
        """The server has the call (or refused it): nothing more to send."""
        with self._queue.edit() as data:
            data["pending"] = [c for c in data["pending"] if c["call_id"] != call_id]

    def pending(self, hall_id: str) -> list[str]:
        """The ids of the hall's calls not yet delivered, oldest first."""
        return [c["call_id"] for c in self._queue.pending() if c.get("hall_id") == hall_id]


class QueueFile:
    """The {pending, rejected} lists of an outbox in one JSON file, read and written under one lock."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._lock = threading.Lock()

    def pending(self) -> list[dict[str, Any]]:
        """Entries not yet acknowledged by the server, oldest first."""
        with self._lock:
            return list(self._load()["pending"])

    def rejected(self) -> list[dict[str, Any]]:
        """Entries the server refused for good, with its reason."""
        with self._lock:
            return list(self._load()["rejected"])

    @contextmanager
    def edit(self) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """The lists to change in place; written back atomically when the block ends without error."""
        with self._lock:
            data = self._load()
            yield data
            self._save(data)

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        if not self.path.exists():
            return {"pending": [], "rejected": []}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError:
            # Keep the unreadable file for a human and start afresh rather than crash the terminal.
            broken = self.path.with_suffix(".broken")
            os.replace(self.path, broken)
            logger.error("%s %s unreadable; moved to %s", self.what, self.path, broken)
            return {"pending": [], "rejected": []}
        data.setdefault("pending", [])
        data.setdefault("rejected", [])
        return data

    def _save(self, data: dict[str, list[dict[str, Any]]]) -> None:
        # A crash leaves the old file or the new one, never half of one.
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
