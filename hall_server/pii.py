"""Which columns hold personal or sensitive data, and how each is protected: the one list.

Kinds: "encrypted" (DataProtector ciphertext with its cipher byte), "lookup_hash" (keyed
HMAC for equality look-ups), "masked" (shown to anyone with access, e.g. 5101**********1234),
"free_text" (may hold anything a visitor or clerk typed: kept out of broadcast events),
"secret_hash" (passwords and tokens, never reversible). A new column of this kind is added here;
tests/hall_server/test_pii_fields.py checks the list against the models.
"""

from __future__ import annotations

import logging
from typing import Final

logger = logging.getLogger(__name__)

ENCRYPTED: Final = "encrypted"
LOOKUP_HASH: Final = "lookup_hash"
MASKED: Final = "masked"
FREE_TEXT: Final = "free_text"
SECRET_HASH: Final = "secret_hash"

# table.column -> (kind, the encryption context the column's ciphertexts are bound to, if any)
PERSONAL_FIELDS: Final[dict[str, tuple[str, str | None]]] = {
    "tickets.id_enc": (ENCRYPTED, "id_number"),
    "tickets.name_enc": (ENCRYPTED, "name"),
    "tickets.id_hmac": (LOOKUP_HASH, None),
    "tickets.id_masked": (MASKED, None),
    "tickets.name_masked": (MASKED, None),
    "appointments.id_enc": (ENCRYPTED, "appointment.id_number"),
    "appointments.name_enc": (ENCRYPTED, "appointment.name"),
    "appointments.phone_enc": (ENCRYPTED, "appointment.phone"),
    "appointments.id_hmac": (LOOKUP_HASH, None),
    "appointments.id_masked": (MASKED, None),
    "appointments.name_masked": (MASKED, None),
    "appointments.phone_masked": (MASKED, None),
    "matters.id_hmac": (LOOKUP_HASH, None),
    "matters.id_masked": (MASKED, None),
    "matters.name_masked": (MASKED, None),
    "notify_outbox.phone_enc": (ENCRYPTED, "outbox.phone"),
    "notify_outbox.phone_masked": (MASKED, None),
    "notify_outbox.text": (FREE_TEXT, None),
    "ticket_documents.data_enc": (ENCRYPTED, "ticket_document:<ticket id>"),
    "users.photo_enc": (ENCRYPTED, "staff_photo:<user id>"),
    "ratings.text": (FREE_TEXT, None),
    "followup_steps.note": (FREE_TEXT, None),
    "matter_steps.note": (FREE_TEXT, None),
    "users.password_hash": (SECRET_HASH, None),
    "api_tokens.token_hash": (SECRET_HASH, None),
}


def fields_of_kind(kind: str) -> list[str]:
    """The table.column names of one kind."""
    return [name for name, (k, _ctx) in PERSONAL_FIELDS.items() if k == kind]
