"""Server settings: one object, read from HALL_* variables and the command line, built once, passed down.

Nothing else in hall_server reads the environment. `hall-server serve --workers N` exports
every setting with `to_env()`, so each worker process builds the same object.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hall_server import const
from hall_server.const import (
    CHAIN_ALGORITHMS,
    CIPHERS,
    DB_FILE_NAME,
    DEFAULT_CHAIN_ALGORITHM,
    DEFAULT_CIPHER,
    DEFAULT_DATA_DIR,
    DEFAULT_PORT,
    DEFAULT_WORKER_SECONDS,
    DEVICE_STALE_SECONDS,
    RATE_LIMITS_DEFAULT,
)

logger = logging.getLogger(__name__)

ENV_PREFIX = "HALL_"
_DAY = 24 * 3600
# The test clock moves at most a month: far enough to reach a booking's day across a holiday week.
_CLOCK_SPAN = 31 * _DAY


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


# The settings that make up the SecurityPolicy (same names on both).
SECURITY_FIELDS = (
    "session_idle_s",
    "session_idle_clerk_s",
    "session_absolute_s",
    "login_backoff_after",
    "login_lock_after",
    "login_lock_s",
    "login_addr_backoff_after",
    "login_addr_lock_after",
    "password_min_length",
    "password_min_classes",
)


class Settings(BaseSettings):
    """Where the data lives, how the server is reached, and the knobs of its background work."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_assignment=True)

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    db_url: str | None = None
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    # Start the cross-process listener (LISTEN/NOTIFY or SQLite poll) with the app.
    listen_other_processes: bool = True
    pool_size: int = Field(default=20, ge=1, le=500)
    # Events one WebSocket subscriber may fall behind before it is closed 4008 events.lagging.
    ws_queue_max: int = Field(default=const.SUBSCRIBER_QUEUE_MAX, ge=10, le=100_000)
    # uvicorn's WebSocket implementation (one of const.WS_PROTOCOLS; another only for comparisons).
    ws_protocol: str = const.WS_PROTOCOLS[0]
    # Concurrent writing transactions per process on PostgreSQL (0: twice the CPUs).
    pg_writers: int = Field(default=0, ge=0, le=1000)
    # The personal-data key itself (hex or base64), else a key file (a city gives every server
    # process the same one; never created), else data.key in the data folder (created: one hall).
    data_key: str | None = None
    data_key_file: Path | None = None
    # Cipher of new personal-data ciphertexts and hash of the audit chain (国密: sm4-gcm, sm3); old
    # records keep the algorithm they were written with.
    data_cipher: str = DEFAULT_CIPHER
    audit_hash: str = DEFAULT_CHAIN_ALGORITHM
    # Seconds between verifications of the audit chains (0 turns them off).
    audit_verify_seconds: float = Field(default=const.AUDIT_VERIFY_DEFAULT_S, ge=0)
    # Seconds between background passes (0 turns them off); HALL_EXT_WORKER_SECONDS is the old name.
    worker_seconds: float = Field(
        default=DEFAULT_WORKER_SECONDS,
        ge=0,
        validation_alias=AliasChoices("worker_seconds", "HALL_WORKER_SECONDS", "HALL_EXT_WORKER_SECONDS"),
    )
    # Days document photos are kept (0 keeps them).
    document_retention_days: int = Field(default=0, ge=0, le=36500)
    # Days of events kept in the live log; older closed days move to event_archive (0: keep all).
    event_retention_days: int = Field(default=0, ge=0, le=36500)
    # The notifier plug-in, "package.module:Class" (empty: messages are logged).
    notifier: str = ""
    # Seconds without a heartbeat before a device shows offline.
    device_stale_seconds: float = Field(default=DEVICE_STALE_SECONDS, gt=0)
    # 呼叫工作人员: new calls one kiosk may make within the window (a tap while its call is open
    # is answered with that call, not counted); more are refused 429 staff_call.too_many.
    staff_calls_per_device: int = Field(default=const.STAFF_CALLS_PER_DEVICE, ge=1, le=1000)
    staff_call_rate_window_s: float = Field(default=const.STAFF_CALL_RATE_WINDOW_S, gt=0, le=86_400)
    # Requests per minute of the public booking limits (0 turns one off); exempt networks.
    rate_book_per_address: int = Field(default=RATE_LIMITS_DEFAULT["book_per_address"], ge=0)
    rate_book_per_person: int = Field(default=RATE_LIMITS_DEFAULT["book_per_person"], ge=0)
    rate_lookup_per_address: int = Field(default=RATE_LIMITS_DEFAULT["lookup_per_address"], ge=0)
    rate_lookup_per_person: int = Field(default=RATE_LIMITS_DEFAULT["lookup_per_person"], ge=0)
    rate_slots_per_address: int = Field(default=RATE_LIMITS_DEFAULT["slots_per_address"], ge=0)
    rate_exempt: str = ""
    # Sessions, log-in throttling and the password policy (a city sets them here; bounded, so a
    # typo cannot switch one off).
    session_idle_s: int = Field(default=const.SESSION_IDLE_STAFF_S, ge=1, le=_DAY)
    session_idle_clerk_s: int = Field(default=const.SESSION_IDLE_CLERK_S, ge=1, le=_DAY)
    session_absolute_s: int = Field(default=const.SESSION_ABSOLUTE_S, ge=1, le=7 * _DAY)
    login_backoff_after: int = Field(default=const.LOGIN_BACKOFF_AFTER, ge=2, le=100)
    login_lock_after: int = Field(default=const.LOGIN_LOCK_AFTER, ge=3, le=100)
    login_lock_s: int = Field(default=const.LOGIN_LOCK_S, ge=1, le=_DAY)
    login_addr_backoff_after: int = Field(default=const.LOGIN_ADDR_BACKOFF_AFTER, ge=2, le=1000)
    login_addr_lock_after: int = Field(default=const.LOGIN_ADDR_LOCK_AFTER, ge=3, le=1000)
    password_min_length: int = Field(default=const.PASSWORD_MIN_LENGTH, ge=6, le=64)
    password_min_classes: int = Field(default=const.PASSWORD_MIN_CLASSES, ge=1, le=4)
    # The login password of the append-only PostgreSQL role (`hall-server db grant-app-role`).
    app_role_password: str | None = None
    # HTTPS: a PEM certificate (chain) and its key, both or neither.
    tls_cert: str | None = None
    tls_key: str | None = None
    # Station mode (docs/sync.md): the parent (city or township) server's base URL; set = station.
    parent_url: str | None = None
    # The station's identity at its parent and the secret the parent issued (`hall-server station
    # add`), given directly or as a file (the setup bundle's JSON, or the bare credential).
    station_id: str | None = None
    station_credential: str | None = None
    station_credential_file: Path | None = None
    # A PEM file pinning the parent's certificate or CA (requests' verify=).
    parent_ca: Path | None = None
    # Seconds between sync rounds; connect/read timeout of each request; events per push.
    sync_seconds: float = Field(default=const.SYNC_SECONDS_DEFAULT, gt=0, le=3600)
    sync_timeout_s: float = Field(default=const.SYNC_TIMEOUT_DEFAULT_S, gt=0, le=300)
    sync_batch: int = Field(default=const.SYNC_BATCH_DEFAULT, ge=1, le=const.SYNC_MAX_EVENTS)
    # Pushes in flight at once (each batch sent without waiting for the answer to the one before).
    sync_push_window: int = Field(default=const.SYNC_PUSH_WINDOW_DEFAULT, ge=1, le=8)
    # The longest wait between failed rounds (the back-off doubles up to it).
    sync_backoff_max_s: float = Field(default=const.SYNC_BACKOFF_MAX_S, gt=0, le=3600)
    # Parent side: a station not heard from for this long shows "silent" on the station list.
    station_silent_alert_s: float = Field(default=const.STATION_SILENT_ALERT_S, gt=0)
    # Tests only: seconds added to the server's clock (ServerContext.now), to run a server whose
    # clock is off (a station 10 minutes behind) or a hall on the day of a booking made days
    # before. Event times keep the system clock.
    clock_offset_s: float = Field(default=0.0, ge=-_CLOCK_SPAN, le=_CLOCK_SPAN)

    @field_validator("rate_exempt")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)  # a ValueError names the bad entry
        return value

    @property
    def station_mode(self) -> bool:
        """This server is a station: it syncs with parent_url."""
        return bool(self.parent_url)

    @property
    def security(self) -> SecurityPolicy:
        """Session lifetimes, throttling and the password policy as the sessions service reads them."""
        return SecurityPolicy(**{name: getattr(self, name) for name in SECURITY_FIELDS})

    @field_validator("data_cipher")
    @classmethod
    def _cipher(cls, value: str) -> str:
        if value not in CIPHERS:
            raise ValueError(f"data_cipher must be one of {', '.join(CIPHERS)}")
        return value

    @field_validator("ws_protocol")
    @classmethod
    def _ws_protocol(cls, value: str) -> str:
        if value not in const.WS_PROTOCOLS:
            raise ValueError(f"ws_protocol must be one of {', '.join(const.WS_PROTOCOLS)}")
        return value

    @field_validator("audit_hash")
    @classmethod
    def _chain(cls, value: str) -> str:
        if value not in CHAIN_ALGORITHMS:
            raise ValueError(f"audit_hash must be one of {', '.join(CHAIN_ALGORITHMS)}")
        return value

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

    @property
    def writers(self) -> int:
        """Concurrent writing transactions per process on PostgreSQL."""
        return self.pg_writers or max(2, 2 * (os.cpu_count() or 1))

    @property
    def rate_limits(self) -> dict[str, int]:
        """The booking limits by name (book_per_address, ...)."""
        return {name: int(getattr(self, f"rate_{name}")) for name in RATE_LIMITS_DEFAULT}

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from HALL_* environment variables alone (uvicorn worker processes)."""
        return cls()

    def to_env(self) -> dict[str, str]:
        """The environment that makes from_env() return these settings (every field, for workers)."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            env[ENV_PREFIX + name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
        env[ENV_PREFIX + "DB_URL"] = self.database_url
        return env

    def describe(self) -> dict[str, Any]:
        """The settings for logs and `hall-server settings`: secrets left out."""
        out = self.model_dump(mode="json")
        for secret in ("data_key", "app_role_password", "station_credential"):
            if out.get(secret):
                out[secret] = "(set)"
        return out
