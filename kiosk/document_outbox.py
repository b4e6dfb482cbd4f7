"""Document photos waiting for the server: kept encrypted on the clerk's machine, sent when the link is back.

Like the rating outbox (kiosk/outbox.py): an index file written atomically, a resend is harmless
(the server keeps one document per ticket and content), and a photo the server refuses for good
is kept as `rejected` with the reason, never silently dropped. The JPEGs themselves live beside
the index, one file each, sealed with AES-GCM under a key of this machine (file mode 0600): a
copy of an ID card is personal data.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.errors import ApiError, KioskError, ServerError, Unauthorized
from kiosk.outbox import QueueFile

logger = logging.getLogger(__name__)

INDEX_NAME = "index.json"
KEY_NAME = "outbox.key"
_NONCE_LEN = 12
# Refusals that may pass by themselves (rate limits, a proxy's timeout): keep the photo pending.
TRANSIENT_STATUSES = (408, 429)
UNREADABLE_ZH = "本机暂存的照片文件损坏"


@dataclass
class FlushReport:
    """What one flush did: photos delivered (entry, server answer), refused for good, and why it stopped."""

    delivered: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], ApiError]] = field(default_factory=list)
    stopped_by: KioskError | None = None


class DocumentOutbox:
    """Pending document photos in a folder; each entry names its ticket, label and when it was taken."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.index = self.folder / INDEX_NAME
        self._queue = QueueFile(self.index, "document outbox index")
        self._aead: Any = None

    # -- storage ------------------------------------------------------------------------------
    def _cipher(self) -> Any:
        if self._aead is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            path = self.folder / KEY_NAME
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(AESGCM.generate_key(bit_length=256))
            self._aead = AESGCM(path.read_bytes())
        return self._aead

    def _photo_path(self, entry: dict[str, Any]) -> Path:
        return self.folder / f"{entry['id']}.jpg.enc"

    # -- use ----------------------------------------------------------------------------------
    def add(
        self, ticket_id: int, jpeg: bytes, *, number: str = "", label: str = "", taken_at: str | None = None
    ) -> dict[str, Any]:
        """Keep a photo for a ticket (sealed on disk before the index names it) and return its entry."""
        entry = {
            "id": uuid.uuid4().hex,
            "ticket_id": int(ticket_id),
            "number": number,
            "label": label,
            "taken_at": taken_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "size": len(jpeg),
        }
        nonce = os.urandom(_NONCE_LEN)
        sealed = nonce + self._cipher().encrypt(nonce, jpeg, entry["id"].encode())
        path = self._photo_path(entry)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(sealed)
            f.flush()
            os.fsync(f.fileno())
        with self._queue.edit() as data:
            data["pending"].append(entry)
        return entry

    def photo(self, entry: dict[str, Any]) -> bytes:
        """The JPEG of an entry."""
        sealed = self._photo_path(entry).read_bytes()
        return self._cipher().decrypt(sealed[:_NONCE_LEN], sealed[_NONCE_LEN:], entry["id"].encode())

    def pending(self) -> list[dict[str, Any]]:
        """Photos not yet acknowledged by the server, oldest first."""
        return self._queue.pending()

    def rejected(self) -> list[dict[str, Any]]:
        """Photos the server refused for good, with its reason (their files are kept)."""
        return self._queue.rejected()

    def _settle(self, entry: dict[str, Any], error: dict[str, Any] | None) -> None:
        with self._queue.edit() as data:
            data["pending"] = [e for e in data["pending"] if e["id"] != entry["id"]]
            if error is not None:
                data["rejected"].append({**entry, "error": error})
        if error is None:
            self._photo_path(entry).unlink(missing_ok=True)

    def flush(self, send: Callable[[dict[str, Any], bytes], Any]) -> FlushReport:
        """Send every pending photo with send(entry, jpeg) in order; stop at the first failure of the link.

        A 401 (the clerk logged out) also stops: the next clerk at the window sends them.
        """
        report = FlushReport()
        for entry in self.pending():
            try:
                jpeg = self.photo(entry)
            except Exception as exc:  # missing file, or cryptography's InvalidTag: it was altered
                logger.error("document outbox: photo of %s unreadable: %r", entry["id"], exc)
                self._settle(entry, {"code": "outbox.unreadable", "message": UNREADABLE_ZH})
                continue
            try:
                answer = send(entry, jpeg)
            except (ServerError, Unauthorized) as exc:
                report.stopped_by = exc
                return report
            except ApiError as exc:
                if exc.status in TRANSIENT_STATUSES:
                    report.stopped_by = exc
                    return report
                logger.warning("document %s of ticket %s refused: %s", entry["id"], entry["ticket_id"], exc)
                self._settle(entry, {"code": exc.code, "message": exc.message_zh})
                report.rejected.append((entry, exc))
                continue
            except KioskError as exc:
                report.stopped_by = exc
                return report
            self._settle(entry, None)
            report.delivered.append((entry, answer))
        return report
