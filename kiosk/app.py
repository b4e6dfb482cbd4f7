"""Builds a machine's services (client, events, devices, simulators) and the screen for its role."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from kiosk import const
from kiosk.api import HallClient
from kiosk.config import KioskConfig
from kiosk.discovery import discover, trusted_server
from kiosk.hardware import Camera, IdReaderService, TicketPrinter
from kiosk.outbox import RatingOutbox
from kiosk.tasks import TaskRunner
from kiosk.ui.context import AppContext, EventBridge
from kiosk.voice.announcer import Announcer
from kiosk.voice.pack import VoicePack, find_pack
from kiosk.voice.speaker import Speaker, make_speaker
from kiosk.voice.tts import EspeakSynthesizer

logger = logging.getLogger(__name__)


class Simulators:
    """The device simulators this process started (id_reader = "sim", printer kind = "virtual")."""

    def __init__(self) -> None:
        self.idcard: Any = None
        self.printer: Any = None

    def start_idcard(self) -> str:
        """Start the ID card pty simulator with a sample card; returns the reader URL."""
        from devices.sim.idcard import IdCardSimulator

        self.idcard = IdCardSimulator().start()
        return f"serial://{self.idcard.port}"

    def start_printer(self, out_dir: Path, width_mm: int) -> str:
        """Start the virtual TCP printer writing PNGs to out_dir; returns host:port."""
        from printers.virtual.server import VirtualPrinter

        self.printer = VirtualPrinter("127.0.0.1", 0, out_dir=out_dir, width_mm=width_mm).start()
        return f"127.0.0.1:{self.printer.port}"

    def stop(self) -> None:
        """Stop whatever was started."""
        for sim in (self.idcard, self.printer):
            if sim is not None:
                try:
                    sim.stop()
                except Exception:
                    logger.exception("stopping a simulator failed")


def resolve_server(cfg: KioskConfig) -> str:
    """The server's base URL: as configured, or found by zeroconf."""
    if cfg.server and cfg.server != "zeroconf":
        return cfg.server
    return trusted_server(discover(cfg.hall or None), cfg.server_pin, cfg.allow_unpinned_discovery)


def build_context(
    cfg: KioskConfig, sims: Simulators | None = None, *, client: HallClient | None = None
) -> AppContext:
    """Client, event bridge, task runner and devices for this machine (simulators started if asked).

    `client`: a HallClient to use instead of one for the configured server (tests give one on a
    canned transport)."""
    sims = sims or Simulators()
    data_dir = Path(cfg.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if cfg.id_reader == "sim":
        cfg = replace(cfg, id_reader=sims.start_idcard())
    if cfg.printer.kind == "virtual" and not cfg.printer.target:
        target = sims.start_printer(data_dir / "printer", cfg.printer.width_mm)
        cfg = replace(cfg, printer=replace(cfg.printer, target=target))
    client = client or HallClient(resolve_server(cfg), cfg.token, pin=cfg.server_pin or None)
    ctx = AppContext(
        config=cfg,
        client=client,
        runner=TaskRunner(),
        events=EventBridge(),
        reader=IdReaderService(cfg.id_reader) if cfg.id_reader else None,
        printer=TicketPrinter(cfg.printer),
        camera=Camera(cfg.camera),
    )
    ctx.extras["sims"] = sims
    if ctx.reader:
        ctx.reader.start()
    return ctx


def make_announcer(cfg: KioskConfig, speaker: Speaker | None = None) -> Announcer | None:
    """The display's voice (None when voice is off)."""
    if not cfg.voice.enabled:
        return None
    synth = EspeakSynthesizer(cfg.voice.voice, cfg.voice.speed)
    folder = find_pack(cfg.voice.pack)
    return Announcer(
        speaker or make_speaker(cfg.voice.speaker),
        synth,
        repeats=cfg.voice.repeats,
        chime=cfg.voice.chime,
        pack=VoicePack(folder, synth) if folder else None,
    )


def make_prompter(cfg: KioskConfig, speaker: Speaker | None = None) -> Announcer | None:
    """The visitor kiosk's voice for its prompts: said once, no chime (None when voice is off)."""
    if not cfg.voice.enabled:
        return None
    synth = EspeakSynthesizer(cfg.voice.voice, cfg.voice.speed)
    return Announcer(speaker or make_speaker(cfg.voice.speaker), synth, repeats=1, chime=False, gap_s=0)


def create_screen(ctx: AppContext, *, speaker: Speaker | None = None) -> QWidget:
    """The widget of the configured role (the enrolment screen first on a machine without its token)."""
    role = ctx.config.role
    if role in const.ENROL_ROLES and not ctx.client.token:
        from kiosk.ui.enrol import FirstStart

        return FirstStart(ctx, lambda enrolled: create_screen(enrolled, speaker=speaker))
    outbox = RatingOutbox(Path(ctx.config.data_dir) / "rating-outbox.json")
    if role == "visitor":
        from kiosk.ui.visitor import VisitorKiosk

        prompter = make_prompter(ctx.config, speaker)
        ctx.extras["announcer"] = prompter  # the health monitor reports a failing voice
        return VisitorKiosk(ctx, prompter)
    if role == "clerk":
        from kiosk.ui.clerk import ClerkTerminal

        return ClerkTerminal(ctx)
    if role == "display":
        from kiosk.ui.display import HallDisplay

        announcer = make_announcer(ctx.config, speaker)
        ctx.extras["announcer"] = announcer
        return HallDisplay(ctx, announcer)
    if role == "rating":
        from kiosk.ui.rating import RatingTerminal

        return RatingTerminal(ctx, outbox)
    from kiosk.ui.village import VillageStation

    # The station's visitor part says the visitor kiosk's prompts (请刷身份证, the ticket, idle).
    prompter = make_prompter(ctx.config, speaker)
    ctx.extras["announcer"] = prompter
    return VillageStation(ctx, outbox, prompter)


def close_context(ctx: AppContext) -> None:
    """Stop every thread and simulator of a context."""
    announcer = ctx.extras.get("announcer")
    if announcer:
        announcer.close()
    ctx.close()
    sims = ctx.extras.get("sims")
    if sims:
        sims.stop()


def wait_ready(widget: QWidget, timeout_s: float = 15.0, settle_s: float = 1.0) -> bool:
    """Run the event loop until the screen says it is ready (or timeout), then let it settle."""
    loop = QEventLoop()
    ready = getattr(widget, "is_ready", True)
    if not ready:
        widget.ready.connect(loop.quit)  # type: ignore[attr-defined]
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
    settle = QEventLoop()
    QTimer.singleShot(int(settle_s * 1000), settle.quit)
    settle.exec()
    return bool(getattr(widget, "is_ready", True))


def screenshot(
    widget: QWidget, path: str | Path, size: tuple[int, int] = (const.DESIGN_WIDTH, const.DESIGN_HEIGHT)
) -> Path:
    """Render the widget at the kiosk resolution to a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    widget.resize(*size)
    widget.show()
    QApplication.processEvents()
    pix = widget.grab()
    if not pix.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


def default_data_dir(role: str) -> str:
    """A per-role scratch folder when none is configured."""
    return str(Path(tempfile.gettempdir()) / f"hall-kiosk-{role}")
