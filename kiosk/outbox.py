"""A small local outbox file: ratings made while the server is unreachable are kept and sent later."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
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
        self._lock = threading.Lock()

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        return load_queue_file(self.path, "outbox")

    def _save(self, data: dict[str, list[dict[str, Any]]]) -> None:
        save_queue_file(self.path, data)

    def add(self, rating: dict[str, Any]) -> dict[str, Any]:
        """Store a rating (gives it a client_id if it has none) and return it."""
        rating = dict(rating)
        rating.setdefault("client_id", uuid.uuid4().hex)
        with self._lock:
            data = self._load()
            if not any(r["client_id"] == rating["client_id"] for r in data["pending"]):
                data["pending"].append(rating)
            self._save(data)
        return rating

    def pending(self) -> list[dict[str, Any]]:
        """Ratings not yet acknowledged by the server."""
        with self._lock:
            return list(self._load()["pending"])

    def rejected(self) -> list[dict[str, Any]]:
        """Ratings the server refused, with its reason."""
        with self._lock:
            return list(self._load()["rejected"])

    def _remove(self, client_id: str, reject_reason: dict[str, Any] | None = None) -> None:
        with self._lock:
            data = self._load()
            keep = []
            for r in data["pending"]:
                if r["client_id"] == client_id:
                    if reject_reason is not None:
                        data["rejected"].append({**r, "error": reject_reason})
                else:
                    keep.append(r)
            data["pending"] = keep
            self._save(data)

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


def load_queue_file(path: Path, what: str) -> dict[str, list[dict[str, Any]]]:
    """The {pending, rejected} lists kept in a JSON file; an unreadable file is set aside, not fatal."""
    if not path.exists():
        return {"pending": [], "rejected": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        # Keep the unreadable file for a human and start afresh rather than crash the terminal.
        broken = path.with_suffix(".broken")
        os.replace(path, broken)
        logger.error("%s %s unreadable; moved to %s", what, path, broken)
        return {"pending": [], "rejected": []}
    data.setdefault("pending", [])
    data.setdefault("rejected", [])
    return data


def save_queue_file(path: Path, data: dict[str, list[dict[str, Any]]]) -> None:
    """Write the lists atomically (a crash leaves the old file or the new one, never half)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
