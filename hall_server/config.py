"""Server settings from the command line or environment."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from hall_server import const
from hall_server.const import (
    DATA_DIR_ENV,
    DB_FILE_NAME,
    DB_URL_ENV,
    DEFAULT_DATA_DIR,
    DEFAULT_PORT,
    PUBLIC_URL_ENV,
)


def _env_int(name: str, default: int, low: int, high: int) -> int:
    """An integer setting from the environment, kept within [low, high]; the default if unset or bad."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return max(low, min(high, int(raw)))
    except ValueError:
        return default


@dataclass(frozen=True)
class SecurityPolicy:
    """Session lifetimes, log-in throttling and the password policy: the one place a city sets them."""

    session_idle_s: int = const.SESSION_IDLE_STAFF_S
    session_idle_clerk_s: int = const.SESSION_IDLE_CLERK_S
    session_absolute_s: int = const.SESSION_ABSOLUTE_S
    login_backoff_after: int = const.LOGIN_BACKOFF_AFTER
    login_lock_after: int = const.LOGIN_LOCK_AFTER
    login_lock_s: int = const.LOGIN_LOCK_S
    login_addr_backoff_after: int = const.LOGIN_ADDR_BACKOFF_AFTER
    login_addr_lock_after: int = const.LOGIN_ADDR_LOCK_AFTER
    password_min_length: int = const.PASSWORD_MIN_LENGTH
    password_min_classes: int = const.PASSWORD_MIN_CLASSES

    def idle_s(self, role: str) -> int:
        """The idle timeout of a session of this role."""
        return self.session_idle_clerk_s if role == "clerk" else self.session_idle_s

    @classmethod
    def from_env(cls) -> SecurityPolicy:
        """The policy with HALL_* environment overrides (bounded, so a typo cannot disable it)."""
        day = 24 * 3600
        return cls(
            session_idle_s=_env_int(const.SESSION_IDLE_STAFF_ENV, const.SESSION_IDLE_STAFF_S, 10, day),
            session_idle_clerk_s=_env_int(const.SESSION_IDLE_CLERK_ENV, const.SESSION_IDLE_CLERK_S, 10, day),
            session_absolute_s=_env_int(const.SESSION_ABSOLUTE_ENV, const.SESSION_ABSOLUTE_S, 10, 7 * day),
            login_backoff_after=_env_int(const.LOGIN_BACKOFF_AFTER_ENV, const.LOGIN_BACKOFF_AFTER, 2, 100),
            login_lock_after=_env_int(const.LOGIN_LOCK_AFTER_ENV, const.LOGIN_LOCK_AFTER, 3, 100),
            login_lock_s=_env_int(const.LOGIN_LOCK_S_ENV, const.LOGIN_LOCK_S, 10, day),
            password_min_length=_env_int(const.PASSWORD_MIN_LENGTH_ENV, const.PASSWORD_MIN_LENGTH, 6, 64),
            password_min_classes=_env_int(const.PASSWORD_MIN_CLASSES_ENV, const.PASSWORD_MIN_CLASSES, 1, 4),
        )


@functools.lru_cache(maxsize=1)
def lan_address() -> str:
    """This machine's address on its main network (what a visitor's phone can reach), else loopback."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            # A UDP "connect" sends nothing; it only makes the kernel pick the outgoing address.
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


@dataclass
class Settings:
    """Where the data lives and how the server is reached."""

    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    db_url: str | None = None
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # Start the cross-process listener (LISTEN/NOTIFY or SQLite poll) with the app.
    listen_other_processes: bool = True
    pool_size: int = 20
    security: SecurityPolicy = field(default_factory=SecurityPolicy.from_env)

    @property
    def database_url(self) -> str:
        """The database URL; a SQLite file in the data folder by default."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / DB_FILE_NAME).resolve()}"

    @property
    def base_url(self) -> str:
        """The URL visitors' phones use (ticket QR codes)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = lan_address() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from HALL_* environment variables (used by uvicorn worker processes)."""
        s = cls(
            data_dir=Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR)),
            db_url=os.environ.get(DB_URL_ENV) or None,
            public_url=os.environ.get(PUBLIC_URL_ENV) or None,
        )
        if os.environ.get("HALL_HOST"):
            s.host = os.environ["HALL_HOST"]
        if os.environ.get("HALL_PORT"):
            s.port = int(os.environ["HALL_PORT"])
        return s

    def to_env(self) -> dict[str, str]:
        """The environment that makes from_env() return these settings."""
        env = {DATA_DIR_ENV: str(self.data_dir), "HALL_HOST": self.host, "HALL_PORT": str(self.port)}
        env[DB_URL_ENV] = self.database_url
        if self.public_url:
            env[PUBLIC_URL_ENV] = self.public_url
        return env
