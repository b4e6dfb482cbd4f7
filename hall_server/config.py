"""Server settings from the command line or environment."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from hall_server.const import (
    CHAIN_ALGORITHM_ENV,
    CIPHER_ENV,
    DATA_DIR_ENV,
    DATA_KEY_FILE_ENV,
    DB_FILE_NAME,
    DB_URL_ENV,
    DEFAULT_CHAIN_ALGORITHM,
    DEFAULT_CIPHER,
    DEFAULT_DATA_DIR,
    DEFAULT_PORT,
    PUBLIC_URL_ENV,
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
    # The data key from a file (a city gives every server process the same one); None: the
    # HALL_DATA_KEY variable, else data.key in the data folder.
    data_key_file: Path | None = None
    # Cipher of new personal-data ciphertexts (aes-gcm, sm4-gcm) and hash of the audit chain
    # (sha256, sm3); old records keep the algorithm they were written with.
    data_cipher: str = field(default_factory=lambda: os.environ.get(CIPHER_ENV) or DEFAULT_CIPHER)
    audit_hash: str = field(
        default_factory=lambda: os.environ.get(CHAIN_ALGORITHM_ENV) or DEFAULT_CHAIN_ALGORITHM
    )

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
        if os.environ.get(DATA_KEY_FILE_ENV):
            s.data_key_file = Path(os.environ[DATA_KEY_FILE_ENV])
        if os.environ.get("HALL_HOST"):
            s.host = os.environ["HALL_HOST"]
        if os.environ.get("HALL_PORT"):
            s.port = int(os.environ["HALL_PORT"])
        return s

    def to_env(self) -> dict[str, str]:
        """The environment that makes from_env() return these settings."""
        env = {DATA_DIR_ENV: str(self.data_dir), "HALL_HOST": self.host, "HALL_PORT": str(self.port)}
        env[DB_URL_ENV] = self.database_url
        env[CIPHER_ENV] = self.data_cipher
        env[CHAIN_ALGORITHM_ENV] = self.audit_hash
        if self.data_key_file is not None:
            env[DATA_KEY_FILE_ENV] = str(self.data_key_file)
        if self.public_url:
            env[PUBLIC_URL_ENV] = self.public_url
        return env
