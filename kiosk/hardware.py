"""Bridges to devices/ and printers/: the ID reader in a thread, the printer and camera as blocking calls.

UI code never calls these directly; it goes through signals (reader) or the TaskRunner (printer, camera).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Signal

from kiosk import const
from kiosk.config import PrinterSettings
from kiosk.errors import KioskError, PrintFailed
from wire import ServiceOut, TicketOut

logger = logging.getLogger(__name__)


class DeviceUnavailable(KioskError):
    """A device is not configured or its driver is missing."""

    code = "device.unavailable"
    default_zh = "设备未配置或不可用"
    default_en = "Device not configured or unavailable"


class IdReaderService(QObject):
    """Watches an ID card reader in a thread and reports each card (or error) once by signal."""

    card_read = Signal(object)  # devices.idcard.IdCard
    read_error = Signal(object)  # devices.errors.DeviceError
    state_changed = Signal(str)  # "ready" | "offline"

    def __init__(self, url: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.url = url
        self.state = "offline"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open the reader and start watching (re-opening with back-off if it goes away)."""
        if not self.url or (self._thread and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="id-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and close the reader."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _run(self) -> None:
        try:
            from devices.idcard import open_reader
        except ImportError as exc:
            logger.error("devices.idcard not available: %s", exc)
            self.read_error.emit(DeviceUnavailable("身份证阅读器驱动未安装", str(exc)))
            return
        delay = 0.5
        while not self._stop.is_set():
            try:
                with open_reader(self.url) as reader:
                    self._set_state("ready")
                    delay = 0.5
                    reader.watch(self.card_read.emit, self._on_error, self._stop, on_state=self._set_state)
            except Exception as exc:  # a reader that vanished is re-opened after a pause
                logger.warning("ID reader %s: %s", self.url, exc)
                self._set_state("offline")
                self._on_error(exc)
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, 5.0)
        self._set_state("offline")

    def _on_error(self, exc: BaseException) -> None:
        self.read_error.emit(exc)


def id_error_zh(exc: BaseException) -> str:
    """The Chinese message a visitor sees for a reader error."""
    code = getattr(exc, "code", "")
    if code == "card.removed":
        return "读卡过程中身份证被移开，请将身份证重新放回感应区"
    if code in ("frame.malformed", "frame.checksum", "card.read_failed"):
        return "读卡失败，请将身份证重新放置在感应区"
    if code in ("reader.not_found", "reader.disconnected"):
        return "身份证阅读器未连接，请联系工作人员"
    if code == "reader.timeout":
        return "身份证阅读器无响应，请稍后重试"
    return getattr(exc, "message_zh", None) or "读卡失败，请重试"


def identity_of(card: Any) -> dict[str, Any]:
    """The identity block sent with a ticket (the server stores it encrypted)."""
    card_type = getattr(card, "card_type", None)
    return {
        "id_number": card.id_number,
        "name": card.name,
        "card_type": getattr(card_type, "value", card_type) or "resident",
    }


class TicketPrinter:
    """Prints tickets and guides with printers/; every failure becomes PrintFailed with the fault code."""

    def __init__(self, settings: PrinterSettings) -> None:
        self.settings = settings
        self._printer: Any = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether this machine has a printer at all."""
        return self.settings.kind not in ("", "none")

    def _open(self) -> Any:
        if self._printer is None:
            try:
                from printers import PrinterConfig, open_printer
            except ImportError as exc:
                raise PrintFailed("打印模块未安装", str(exc), code=const.FAULT_PRINTER) from exc
            kind = "network" if self.settings.kind == "virtual" else self.settings.kind
            cfg = PrinterConfig(
                kind=kind,
                target=self.settings.target,
                mode=self.settings.mode,
                width_mm=self.settings.width_mm,
            )
            self._printer = open_printer(cfg)
        return self._printer

    def _do(self, what: str, fn_name: str, layout: Any) -> None:
        if not self.configured:
            raise PrintFailed("本机未配置打印机", "no printer configured", code=const.FAULT_OFFLINE)
        with self._lock:
            try:
                getattr(self._open(), fn_name)(layout)
            except PrintFailed:
                raise
            except Exception as exc:
                code = getattr(exc, "code", const.FAULT_PRINTER)
                zh = getattr(exc, "message_zh", None) or "打印机故障"
                logger.warning("printing %s failed: %s", what, exc)
                # Drop the connection: the next attempt reconnects (the printer may be back).
                self._printer = None
                raise PrintFailed(f"{zh}。号码已显示在屏幕上，请记下或拍照", str(exc), code=code) from exc

    def print_ticket(
        self, ticket: TicketOut, hall_name: str, where: str = "", where_en: str = "", english: bool = False
    ) -> None:
        """Print a ticket as the server answered it, with where to go; Chinese only unless `english`."""
        from printers.layout import TicketLayout

        holder = ticket.holder
        green = ticket.green_reason
        layout = TicketLayout(
            hall_name=hall_name,
            number=ticket.number,
            service_name=ticket.service_name or ticket.service_code,
            people_ahead=ticket.people_ahead or 0,
            estimated_wait_minutes=ticket.estimated_wait_minutes,
            issued_at=_parse_time(ticket.issued_at),
            qr_url=ticket.track_url,
            notes=[const.TICKET_NOTE],
            priority_label=_priority_label(green, english) if green else None,
            holder_masked=(holder.name_masked or holder.id_masked) if holder else None,
            window_hint=where or None,
            window_hint_en=where_en or None,
            english=english,
        )
        self._do("ticket", "print_ticket", layout)

    def print_guide(self, service: ServiceOut, hall_name: str) -> None:
        """Print a service guide slip carrying every field of the guide and a QR code to its page."""
        self._do("guide", "print_guide", guide_slip(service, hall_name))

    def status(self) -> Any:
        """The printer's status (online, paper_out...); a failed request drops the connection for the next."""
        with self._lock:
            try:
                return self._open().status()
            except Exception:
                self._printer = None
                raise


def _priority_label(green: str, english: bool) -> str:
    """【绿色通道·老年人】, with the English after it on an English ticket."""
    zh = "绿色通道·" + const.GREEN_REASON_ZH.get(green, green)
    return f"{zh} Priority: {const.GREEN_REASON_EN.get(green, green)}" if english else zh


def material_counts(m: Any) -> tuple[str, int, int, str]:
    """(name, originals, copies, note) of a guide's material; the old {original: bool} form read too."""
    if isinstance(m, str):
        return m, 1, 0, ""
    originals = m.get("originals")
    if originals is None:
        originals = 1 if m.get("original", True) else 0
    return str(m.get("name", "")), int(originals), int(m.get("copies") or 0), str(m.get("note") or "")


def material_text(m: Any) -> str:
    """One materials line, counts never ambiguous: '身份证（原件1份、复印件1份）（备注）'."""
    name, originals, copies, note = material_counts(m)
    parts = []
    if originals:
        parts.append(f"原件{originals}份")
    if copies:
        parts.append(f"复印件{copies}份")
    text = name + (f"（{'、'.join(parts)}）" if parts else "")
    if note:
        text += f"（{note}）"
    return text


# The labelled lines of a guide slip after materials and steps, in the order of the 八统一 guide.
GUIDE_DETAILS = (
    ("department", "实施部门"),
    ("category", "事项类别"),
    ("legal_basis", "设定依据"),
    ("conditions", "受理条件"),
    ("fee", "收费标准"),
    ("forms", "申请表格"),
    ("location", "办理地点"),
    ("consult_phone", "咨询电话"),
    ("complaint_phone", "投诉电话"),
    ("online_url", "网上办理"),
    ("id_required", "取号须刷身份证"),
    ("daily_cap", "每日限号"),
    ("notes", "备注"),
)


def guide_details(service: ServiceOut) -> list[tuple[str, str]]:
    """Every field of the guide besides materials, steps and time limits, as (label, text)."""
    guide = {**service.guide, "department": service.department or "", "category": service.category}
    out = [("事项编码", service.code)]
    for key, label in GUIDE_DETAILS:
        value = guide.get(key)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, bool):
            text = "是" if value else "否"
        elif isinstance(value, list):
            text = "；".join(str(v) for v in value)
        elif key == "daily_cap":
            text = f"{value} 个"
        else:
            text = str(value)
        out.append((label, text))
    return out


def guide_slip(service: ServiceOut, hall_name: str) -> Any:
    """The printers' GuideSlip of a service as the server answered it."""
    from printers.layout import GuideSlip, Material

    guide = service.guide
    materials = []
    for m in guide.get("materials") or []:
        name, originals, copies, note = material_counts(m)
        materials.append(Material(name, originals=originals, copies=copies, note=note))
    version = ""
    if service.version is not None:
        since = (service.valid_from or "")[:10]
        version = f"指南第{service.version}版" + (
            f"，{since}起施行" if since and since > "2000-01-01" else ""
        )
    return GuideSlip(
        hall_name=hall_name,
        service_name=service.name,
        materials=materials,
        steps=[str(s) for s in guide.get("steps") or []],
        time_limit=time_limit_text(service),
        notes=[],
        qr_url=service.guide_url,
        details=guide_details(service),
        version=version,
    )


def time_limit_text(service: ServiceOut) -> str:
    """'法定时限 20 个工作日，承诺 5 个工作日' (from the service's guide)."""
    guide = service.guide
    legal = guide.get("time_limit_days")
    promise = guide.get("promise_days")
    parts = []
    if legal is not None:
        parts.append(f"法定时限 {legal} 个工作日")
    if promise is not None:
        parts.append(f"承诺 {promise} 个工作日" if promise else "即办")
    return "，".join(parts)


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now()


@dataclass(frozen=True)
class ScanFrame:
    """One look of the QR scanner: the preview (packed RGB) and the text of a QR code in it, if any."""

    rgb: bytes
    width: int
    height: int
    text: str | None


class Camera:
    """Document photos and the QR scanner's frames with devices.camera (blocking: run it in the TaskRunner)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()  # one user of the camera at a time: a photo, a scan or a probe
        self._stream: Any = None  # kept open while a scanner looks through the camera

    @property
    def configured(self) -> bool:
        """Whether a camera is configured."""
        return bool(self.url)

    def _open(self) -> Any:
        if not self.url:
            raise DeviceUnavailable("本机未配置摄像头", "no camera configured")
        try:
            from devices.camera import open_camera

            return open_camera(self.url)
        except Exception as exc:
            raise DeviceUnavailable(getattr(exc, "message_zh", "摄像头未连接"), str(exc)) from exc

    def probe(self) -> None:
        """Open the camera, read one frame and close it; DeviceUnavailable when it is gone."""
        with self._lock:
            cam = self._stream or self._open()
            try:
                cam.read()
            except Exception as exc:
                raise DeviceUnavailable(getattr(exc, "message_zh", "摄像头无画面"), str(exc)) from exc
            finally:
                if cam is not self._stream:
                    cam.close()

    def capture_jpeg(self) -> bytes:
        """One JPEG frame."""
        with self._lock:
            cam = self._stream or self._open()
            try:
                return cam.capture_jpeg()
            except Exception as exc:
                raise DeviceUnavailable(getattr(exc, "message_zh", "拍摄失败，请重试"), str(exc)) from exc
            finally:
                if cam is not self._stream:
                    cam.close()

    def scan_frame(self) -> ScanFrame:
        """The next frame of the scanner (the camera stays open until `release`) and any QR text in it."""
        from devices.camera.qr import decode_qr, preview_rgb

        with self._lock:
            if self._stream is None:
                self._stream = self._open()
            try:
                frame = self._stream.read()
            except Exception as exc:
                self._stream.close()
                self._stream = None
                raise DeviceUnavailable(getattr(exc, "message_zh", "摄像头无画面"), str(exc)) from exc
        # Decoding runs outside the lock: a health probe need not wait for it.
        rgb, width, height = preview_rgb(frame)
        return ScanFrame(rgb, width, height, decode_qr(frame))

    def release(self) -> None:
        """Close the scanner's camera (the next photo or scan opens it again)."""
        with self._lock:
            if self._stream is not None:
                self._stream.close()
                self._stream = None
