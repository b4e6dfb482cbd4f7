"""Password hashing with hashlib.scrypt and a random salt; bearer tokens hashed with SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from hall_server.const import SCRYPT_DKLEN, SCRYPT_N, SCRYPT_P, SCRYPT_R, TOKEN_BYTES

_SCHEME = "scrypt"


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt_hex$hash_hex` of password with a fresh salt."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN
    )
    return f"{_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True if password matches a hash made by hash_password (constant-time compare)."""
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = bytes.fromhex(hash_hex)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def new_token() -> str:
    """A fresh random bearer token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The stored form of a bearer token (tokens are random, so a plain SHA-256 suffices)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def password_problems(password: str, min_length: int, min_classes: int, username: str = "") -> list[str]:
    """What a new password lacks under the policy, in zh_CN (empty when it is acceptable)."""
    problems = []
    if len(password) < min_length:
        problems.append(f"长度至少 {min_length} 位")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < min_classes:
        problems.append(f"须包含小写字母、大写字母、数字、符号中的至少 {min_classes} 类")
    if username and username.lower() in password.lower():
        problems.append("不能包含用户名")
    return problems
