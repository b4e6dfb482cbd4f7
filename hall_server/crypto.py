"""Personal data at rest: authenticated encryption (AES-GCM or SM4-GCM) and a keyed look-up hash.

Every new ciphertext starts with one byte naming its algorithm (CIPHER_VERSIONS), so a hall can
switch from AES to SM4 (国密) without re-encrypting: old ciphertexts decrypt under the algorithm
they carry. Ciphertexts written before the prefix existed are plain AES-GCM (nonce || sealed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hall_server.const import CIPHERS, DEFAULT_CIPHER, KEY_FILE_NAME

logger = logging.getLogger(__name__)

_NONCE_LEN = 12
_TAG_LEN = 16
_KEY_LEN = 32
_SM4_KEY_LEN = 16
# The first byte of a ciphertext: which cipher sealed it.
CIPHER_VERSIONS = {"aes-gcm": 0x01, "sm4-gcm": 0x02}
_FINGERPRINT_INFO = b"hall-data-key-fingerprint-v1"


class DataKeyError(RuntimeError):
    """The data key is missing, unreadable, malformed, or not the key of this database."""


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


def load_or_create_key(data_dir: Path, key_file: Path | str | None = None, given: str | None = None) -> bytes:
    """The master key given (Settings.data_key, HALL_DATA_KEY), else a key file (Settings.data_key_file,
    HALL_DATA_KEY_FILE, --data-key-file), else <data_dir>/data.key (created 0600 if missing: one hall).

    A named key file is never created: a city hands the same file to every server process, and a
    missing one must stop the server rather than give it a key of its own.
    """
    if given:
        return _decode_key(given)
    if key_file:
        path = Path(key_file)
        try:
            return _decode_key(path.read_text())
        except OSError as exc:
            raise DataKeyError(f"cannot read the data key file {path}: {exc.strerror}") from exc
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


def key_fingerprint(master_key: bytes) -> str:
    """An HMAC of a constant under the key: tells keys apart, reveals nothing of the key."""
    return "hmac-sha256:" + hmac.new(master_key, _FINGERPRINT_INFO, hashlib.sha256).hexdigest()


class DataProtector:
    """Encrypts personal fields and computes their look-up hash from one master key."""

    def __init__(self, master_key: bytes, cipher: str = DEFAULT_CIPHER) -> None:
        if len(master_key) != _KEY_LEN:
            raise DataKeyError("master key must be 32 bytes")
        if cipher not in CIPHERS:
            raise DataKeyError(f"unknown data cipher {cipher!r}; choose one of {', '.join(CIPHERS)}")
        self.cipher = cipher
        self._aead = AESGCM(self._derive(master_key, b"hall-pii-encryption"))
        # The SM4 key is derived with SM3 (国密 end to end); 128 bits is SM4's only key size.
        self._sm4_key = HKDF(
            algorithm=hashes.SM3(), length=_SM4_KEY_LEN, salt=None, info=b"hall-pii-encryption-sm4"
        ).derive(master_key)
        # The look-up hash stays HMAC-SHA256 whatever the cipher: switching it would orphan the
        # hashes already stored (per-person limits, check-in by ID number).
        self._mac_key = self._derive(master_key, b"hall-pii-lookup")
        self.fingerprint = key_fingerprint(master_key)
        self._pending_check: Callable[[], None] | None = None
        self._check_lock = threading.Lock()
        if cipher == "sm4-gcm":
            try:
                self._seal(b"self-test", b"")
            except Exception as exc:  # UnsupportedAlgorithm and kin: this OpenSSL lacks SM4-GCM
                raise DataKeyError(
                    f"this OpenSSL cannot do SM4-GCM ({exc}); use --data-cipher aes-gcm"
                ) from exc

    def before_first_use(self, check: Callable[[], None]) -> None:
        """Run check (the key's fingerprint against the database) once before the key is used."""
        self._pending_check = check

    def _checked(self) -> None:
        if self._pending_check is None:
            return
        with self._check_lock:
            if self._pending_check is not None:
                self._pending_check()  # raises DataKeyError on another key, or the database error
                self._pending_check = None

    @staticmethod
    def _derive(master: bytes, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=_KEY_LEN, salt=None, info=info).derive(master)

    def _seal(self, data: bytes, aad: bytes) -> bytes:
        self._checked()
        nonce = os.urandom(_NONCE_LEN)
        if self.cipher == "sm4-gcm":
            enc = Cipher(algorithms.SM4(self._sm4_key), modes.GCM(nonce)).encryptor()
            enc.authenticate_additional_data(aad)
            sealed = enc.update(data) + enc.finalize() + enc.tag
        else:
            sealed = self._aead.encrypt(nonce, data, aad)
        return bytes([CIPHER_VERSIONS[self.cipher]]) + nonce + sealed

    def _open(self, blob: bytes, aad: bytes) -> bytes:
        self._checked()
        blob = bytes(blob)
        version = blob[0] if blob else None
        try:
            if version == CIPHER_VERSIONS["aes-gcm"]:
                return self._aead.decrypt(blob[1 : 1 + _NONCE_LEN], blob[1 + _NONCE_LEN :], aad)
            if version == CIPHER_VERSIONS["sm4-gcm"]:
                nonce, body = blob[1 : 1 + _NONCE_LEN], blob[1 + _NONCE_LEN :]
                dec = Cipher(algorithms.SM4(self._sm4_key), modes.GCM(nonce, body[-_TAG_LEN:])).decryptor()
                dec.authenticate_additional_data(aad)
                return dec.update(body[:-_TAG_LEN]) + dec.finalize()
        except (InvalidTag, ValueError):
            # A legacy ciphertext whose random nonce happens to start with a version byte:
            # its tag cannot check under the wrong reading, so it is read as legacy below.
            pass
        return self._aead.decrypt(blob[:_NONCE_LEN], blob[_NONCE_LEN:], aad)

    def encrypt(self, value: str, context: str = "") -> bytes:
        """version || nonce || ciphertext of value, bound to context (e.g. the field name)."""
        return self._seal(value.encode("utf-8"), context.encode("utf-8"))

    def decrypt(self, blob: bytes, context: str = "") -> str:
        """The plaintext of a blob made by encrypt() (any cipher version, or legacy AES-GCM)."""
        return self._open(blob, context.encode("utf-8")).decode("utf-8")

    def encrypt_bytes(self, data: bytes, context: str = "") -> bytes:
        """version || nonce || ciphertext of binary data (document photos), bound to context."""
        return self._seal(data, context.encode("utf-8"))

    def decrypt_bytes(self, blob: bytes, context: str = "") -> bytes:
        """The plaintext of a blob made by encrypt_bytes()."""
        return self._open(blob, context.encode("utf-8"))

    def lookup_hash(self, value: str) -> str:
        """A keyed hash of value for equality look-ups (per-person limits, check-in)."""
        self._checked()
        return hmac.new(self._mac_key, value.strip().upper().encode("utf-8"), hashlib.sha256).hexdigest()
