"""Per-machine configuration from a TOML/JSON file and command-line flags."""

from __future__ import annotations

import json
import logging
import socket
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk import const
from kiosk.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrinterSettings:
    """How this machine prints: kind network|usb|serial|cups|file|dummy|virtual|none."""

    kind: str = "none"
    target: str = ""
    mode: str = "raster"
    width_mm: int = 80


@dataclass(frozen=True)
class VoiceSettings:
    """Offline announcements: espeak-ng voice, repeats, and where the audio goes."""

    enabled: bool = True
    repeats: int = const.VOICE_REPEATS_DEFAULT
    voice: str = const.ESPEAK_VOICE
    speed: int = const.ESPEAK_SPEED
    chime: bool = True
    # auto: a player found on PATH (pw-play, paplay, aplay); none: silent; dir:PATH writes WAV files.
    speaker: str = "auto"
    # Recorded clips joined into calls: "default" (built at install), a folder, or "" to synthesize.
    pack: str = "default"
    # The visitor kiosk speaks its prompts (请刷身份证, the ticket, the idle warning) to every visitor;
    # off, it speaks only in elderly mode (which always speaks while voice is enabled).
    prompts: bool = True


@dataclass(frozen=True)
class DisplaySettings:
    """The hall display: how long each page of windows / waiting counts stays when not all fit."""

    page_seconds: float = const.DISPLAY_PAGE_S


@dataclass(frozen=True)
class KioskConfig:
    """Everything one machine needs to know: its role, hall, server and devices."""

    role: str = "visitor"
    hall: str = ""
    window_id: int | None = None
    # "zeroconf" browses the LAN for _hall._tcp.local.; otherwise http://host:port
    server: str = "zeroconf"
    # SHA-256 fingerprint of the server's TLS certificate (hex, colons allowed): only that server is used.
    server_pin: str = ""
    # A server found by zeroconf is refused without server_pin, unless this is set (a trusted LAN).
    allow_unpinned_discovery: bool = False
    token: str | None = None
    # Per-role tokens for a village station (one machine, several roles): {"rating": "..."}.
    tokens: dict[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None
    # serial:///dev/ttyUSB0?baud=115200, pcsc://, sim (built-in simulator) or "" (none)
    id_reader: str = ""
    camera: str = ""
    printer: PrinterSettings = field(default_factory=PrinterSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    elderly_mode: bool = False
    idle_timeout_s: int = const.IDLE_TIMEOUT_S
    # Seconds the visitor's ticket page stays up before it returns home (with a countdown).
    ticket_return_s: int = const.TICKET_RETURN_S
    data_dir: str = "kiosk-data"
    device_id: str = ""
    # Seconds between heartbeats, and between polls of the printer, reader, camera and voice.
    heartbeat_s: float = const.HEARTBEAT_S
    health_poll_s: float = const.HEALTH_POLL_S
    # A village station's (or a clerk's at a station) poll of the station's link to the city.
    link_poll_s: float = const.LINK_POLL_S
    language: str = "zh_CN"
    # The hall's clock: tickets carry the hall's local time, so the header must show the same.
    timezone: str = const.HALL_TIMEZONE

    def __post_init__(self) -> None:
        if self.role not in const.ROLES:
            raise ConfigError(f"未知的终端角色：{self.role}", f"unknown role {self.role!r}")
        if self.printer.mode not in ("text", "raster"):
            raise ConfigError("打印模式只能是 text 或 raster", "printer mode must be text or raster")
        if self.printer.width_mm not in (58, 80):
            raise ConfigError("纸宽只能是 58 或 80 毫米", "printer width must be 58 or 80")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"未知的时区：{self.timezone}", f"unknown time zone {self.timezone!r}") from exc
        if self.server_pin:
            from kiosk.tls import normalise_pin

            normalise_pin(self.server_pin)  # ConfigError if it is not a SHA-256
        if self.idle_timeout_s < 5:
            raise ConfigError("空闲超时不能少于 5 秒", "idle timeout must be at least 5 s")
        if self.ticket_return_s < const.TICKET_RETURN_MIN_S:
            raise ConfigError(
                f"号票页停留不能少于 {const.TICKET_RETURN_MIN_S} 秒",
                f"ticket_return_s must be at least {const.TICKET_RETURN_MIN_S} s",
            )
        for name in ("heartbeat_s", "health_poll_s", "link_poll_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < const.HEALTH_MIN_S:
                raise ConfigError(
                    f"{name} 须为不小于 {const.HEALTH_MIN_S:g} 秒的数字",
                    f"{name} must be a number of at least {const.HEALTH_MIN_S:g} s",
                )
        lo, hi = const.DISPLAY_PAGE_MIN_S, const.DISPLAY_PAGE_MAX_S
        page_s = getattr(self.display, "page_seconds", None)
        if isinstance(page_s, bool) or not isinstance(page_s, int | float) or not lo <= page_s <= hi:
            raise ConfigError(
                f"综合屏翻页间隔须在 {lo:g} 到 {hi:g} 秒之间",
                f"display page_seconds must be {lo:g}..{hi:g} s",
            )

    @property
    def effective_device_id(self) -> str:
        """A stable id for heartbeats: configured, else role@hostname."""
        return self.device_id or f"{self.role}@{socket.gethostname()}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for saving or showing)."""
        return asdict(self)


def _from_dict(data: dict[str, Any]) -> KioskConfig:
    known = {f.name for f in fields(KioskConfig)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(
            f"配置文件中有未知项：{', '.join(sorted(unknown))}", f"unknown keys {sorted(unknown)}"
        )
    data = dict(data)
    try:
        if isinstance(data.get("printer"), dict):
            data["printer"] = PrinterSettings(**data["printer"])
        if isinstance(data.get("voice"), dict):
            data["voice"] = VoiceSettings(**data["voice"])
        if isinstance(data.get("display"), dict):
            data["display"] = DisplaySettings(**data["display"])
        return KioskConfig(**data)
    except TypeError as exc:
        raise ConfigError("配置文件格式有误", str(exc)) from exc


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> KioskConfig:
    """Read the file (TOML or JSON by suffix), then apply flag overrides (None values ignored)."""
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"找不到配置文件：{p}", f"config file not found: {p}")
        try:
            if p.suffix.lower() == ".json":
                data = json.loads(p.read_text(encoding="utf-8"))
            else:
                data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"配置文件无法解析：{p}", str(exc)) from exc
    cfg = _from_dict(data)
    if overrides:
        flat = {k: v for k, v in overrides.items() if v is not None}
        printer = {k[8:]: flat.pop(k) for k in list(flat) if k.startswith("printer_")}
        voice = {k[6:]: flat.pop(k) for k in list(flat) if k.startswith("voice_")}
        display = {k[8:]: flat.pop(k) for k in list(flat) if k.startswith("display_")}
        try:
            if printer:
                flat["printer"] = replace(cfg.printer, **printer)
            if voice:
                flat["voice"] = replace(cfg.voice, **voice)
            if display:
                flat["display"] = replace(cfg.display, **display)
            cfg = replace(cfg, **flat)
        except TypeError as exc:
            raise ConfigError("命令行参数有误", str(exc)) from exc
    return cfg


def _enrolled_path(data_dir: str) -> Path:
    return Path(data_dir) / const.ENROLLED_FILE


def store_enrolment(
    data_dir: str, token: str, hall: str, window_id: int | None, role: str | None = None
) -> Path:
    """Keep the token a first-start enrolment gave this machine (mode 0600; only this machine knows it),
    with the role it was registered for (the token works for that role only)."""
    path = _enrolled_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(
        json.dumps({"token": token, "hall": hall, "window_id": window_id, "role": role}), encoding="utf-8"
    )
    return path


def with_enrolment(cfg: KioskConfig) -> KioskConfig:
    """The configuration with the enrolled token (and its hall and window) where none was configured."""
    path = _enrolled_path(cfg.data_dir)
    if cfg.token or not path.exists():
        return cfg
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        token, hall, window_id = str(data["token"]), str(data["hall"]), data.get("window_id")
        role = data.get("role") or cfg.role
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"本机登记信息无法读取：{path}", str(exc)) from exc
    if role not in const.ROLES:
        raise ConfigError(f"本机登记信息无法读取：{path}", f"unknown role {role!r}")
    return replace(
        cfg,
        role=role,
        token=token,
        hall=cfg.hall or hall,
        window_id=cfg.window_id if cfg.window_id is not None else window_id,
    )
