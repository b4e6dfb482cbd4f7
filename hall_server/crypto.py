"""Personal data at rest: AES-GCM encryption and a keyed hash (HMAC) for look-ups."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hall_server.const import KEY_FILE_NAME

logger = logging.getLogger(__name__)

_NONCE_LEN = 12
_KEY_LEN = 32


class DataKeyError(RuntimeError):
    """The data key is missing, unreadable or malformed."""


def _decode_key(text: str) -> bytes:
    text = text.strip()
    for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == _KEY_LEN:
            return raw
    raise DataKeyError(f"the data key must be {_KEY_LEN} bytes in hex or base64")


def load_or_create_key(data_dir: Path, given: str | None = None) -> bytes:
    """The master key given (Settings.data_key, HALL_DATA_KEY), else <data_dir>/data.key (created 0600)."""
    if given:
        return _decode_key(given)
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return _decode_key(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = os.urandom(_KEY_LEN)
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode_key(path.read_text())
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    logger.info("created data key %s", path)
    return key


class DataProtector:
    """Encrypts personal fields and computes their look-up hash from one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != _KEY_LEN:
            raise DataKeyError("master key must be 32 bytes")
        self._aead = AESGCM(self._derive(master_key, b"hall-pii-encryption"))
        self._mac_key = self._derive(master_key, b"hall-pii-lookup")

    @staticmethod
    def _derive(master: bytes, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=_KEY_LEN, salt=None, info=info).derive(master)

    def encrypt(self, value: str, context: str = "") -> bytes:
        """nonce || ciphertext of value, bound to context (e.g. the field name)."""
        nonce = os.urandom(_NONCE_LEN)
        return nonce + self._aead.encrypt(nonce, value.encode("utf-8"), context.encode("utf-8"))

    def decrypt(self, blob: bytes, context: str = "") -> str:
        """The plaintext of a blob made by encrypt()."""
        return self._aead.decrypt(blob[:_NONCE_LEN], blob[_NONCE_LEN:], context.encode("utf-8")).decode(
            "utf-8"
        )

    def encrypt_bytes(self, data: bytes, context: str = "") -> bytes:
        """nonce || ciphertext of binary data (document photos), bound to context."""
        nonce = os.urandom(_NONCE_LEN)
        return nonce + self._aead.encrypt(nonce, data, context.encode("utf-8"))

    def decrypt_bytes(self, blob: bytes, context: str = "") -> bytes:
        """The plaintext of a blob made by encrypt_bytes()."""
        return self._aead.decrypt(blob[:_NONCE_LEN], blob[_NONCE_LEN:], context.encode("utf-8"))

    def lookup_hash(self, value: str) -> str:
        """A keyed hash of value for equality look-ups (per-person limits, check-in)."""
        return hmac.new(self._mac_key, value.strip().upper().encode("utf-8"), hashlib.sha256).hexdigest()
