"""The document photo (F12, 材料留存): the camera shot, the material it shows (from the service guide),
the outbox that keeps it sealed on this machine until the server has it, and what became of it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QComboBox

from kiosk import const
from kiosk.document_outbox import DocumentOutbox, FlushReport
from kiosk.errors import KioskError, Unauthorized
from kiosk.ui.theme import sc
from kiosk.ui.widgets import label
from wire import DocumentOut, ServiceOut

if TYPE_CHECKING:
    from kiosk.ui.clerk.terminal import ClerkTerminal

logger = logging.getLogger(__name__)


class DocumentPhotos:
    """Camera, material chooser, photo preview and document outbox of one terminal."""

    def __init__(self, term: ClerkTerminal) -> None:
        self.term = term
        self.photo: bytes | None = None
        # Photos taken with a ticket in hand wait here until the server has them (材料留存).
        self.doc_outbox = DocumentOutbox(Path(term.ctx.config.data_dir) / const.DOCUMENT_OUTBOX_DIR)
        self._flushing = False
        self._flush_again = False
        self._fresh: set[str] = set()  # taken just now: their fate is told on the message line
        # Material names of each service's guide (办事指南), to label the photos taken for it.
        self._materials: dict[str, list[str]] = {}
        self._materials_asked: set[str] = set()
        # Which material the next photo shows (the ticket's service guide lists them).
        self.material_box = QComboBox()
        self.material_box.setObjectName("material")
        self.material_box.setAccessibleName("拍摄的材料")
        self.material_box.setToolTip("拍摄的材料 / the document photographed")
        self.material_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.material_box.setMaximumWidth(sc(330))  # a long name is cut here, not the row
        self.material_box.setVisible(False)
        self.photo_label = label("", None)
        self.photo_label.setFixedSize(sc(134), sc(100))
        self.pending_label = label("", "subtitle")
        self.pending_label.setObjectName("documents-pending")
        self._timer = QTimer(term)
        self._timer.setInterval(const.DOCUMENT_RETRY_S * 1000)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    def fill_materials(self) -> None:
        """Offer the materials of the ticket in hand's service (fetched once per service)."""
        term = self.term
        code = term.current.service_code if term.current else None
        if not code:
            self.material_box.setVisible(False)
            return
        names = self._materials.get(code)
        if names is None:
            if code not in self._materials_asked:
                self._materials_asked.add(code)
                client = term.client

                def done(full: ServiceOut) -> None:
                    items = full.guide.get("materials") or []
                    names = [m if isinstance(m, str) else str(m.get("name", "")) for m in items]
                    self._materials[code] = [n for n in names if n]
                    self.fill_materials()

                def failed(exc: BaseException) -> None:
                    self._materials_asked.discard(code)  # ask again with the next ticket
                    logger.info("service guide of %s not loaded: %s", code, exc)

                term.run(lambda: client.service(code), done, failed)
            names = []
        items = [*names, const.DOCUMENT_OTHER_MATERIAL_ZH]
        if [self.material_box.itemText(i) for i in range(self.material_box.count())] != items:
            self.material_box.clear()
            self.material_box.addItems(items)
        self.material_box.setVisible(True)

    def take_photo(self) -> None:
        """Photograph a document; with a ticket in hand it is kept with that ticket on the server."""
        term = self.term
        cam = term.ctx.camera
        if not cam or not cam.configured:
            term.message.show_error("本窗口未配置高拍仪/摄像头")
            return
        # The photo belongs to the ticket in hand when the key is pressed, not when it is sent.
        ticket = term.current
        material = self.material_box.currentText() if ticket and self.material_box.isVisible() else ""
        outbox = self.doc_outbox
        photo_btn = term.op_buttons["photo"]
        photo_btn.setEnabled(False)

        def work() -> tuple[bytes, dict[str, Any] | None]:
            jpeg = cam.capture_jpeg()
            if ticket is None:
                return jpeg, None
            taken = datetime.now(UTC).isoformat(timespec="seconds")
            # Into the outbox first (sealed on disk): if the link is down the photo is still kept.
            return jpeg, outbox.add(ticket.id, jpeg, number=ticket.number, label=material, taken_at=taken)

        def done(res: tuple[bytes, dict[str, Any] | None]) -> None:
            jpeg, entry = res
            photo_btn.setEnabled(not term.busy)
            self.photo = jpeg
            pm = QPixmap()
            pm.loadFromData(jpeg, "JPG")
            self.photo_label.setPixmap(
                pm.scaled(
                    200, 150, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )
            if entry is None:
                term.message.show_error(const.DOCUMENT_NEEDS_TICKET_ZH)
                return
            term.message.show_ok(f"材料已拍摄，正在上传… {entry['number']}")
            self._fresh.add(entry["id"])
            self.flush()

        def failed(exc: BaseException) -> None:
            photo_btn.setEnabled(not term.busy)
            term.message.show_error(exc)

        term.run(work, done, failed)

    def flush(self) -> None:
        """Send the photos waiting in the outbox, in the background and one flush at a time."""
        if self._flushing:
            self._flush_again = True
            return
        term = self.term
        if not term.client.token or not self.doc_outbox.pending():
            self._update_pending()
            return
        self._flushing = True
        client = term.client

        def send(entry: dict[str, Any], jpeg: bytes) -> tuple[DocumentOut, int | None]:
            """Upload one photo; the document kept and its place among the ticket's documents."""
            doc = client.upload_document(
                entry["ticket_id"], jpeg, entry.get("label") or None, entry.get("taken_at")
            )
            nth: int | None
            try:
                ids = [d.id for d in client.documents(entry["ticket_id"])]
                nth = ids.index(doc.id) + 1 if doc.id in ids else len(ids)
            except KioskError:
                nth = None  # kept on the server all the same; only the count is unknown
            return doc, nth

        def done(report: FlushReport) -> None:
            self._flushing = False
            self._tell(report)
            if self._flush_again and report.stopped_by is None:
                self._flush_again = False
                self.flush()

        def failed(exc: BaseException) -> None:
            self._flushing = False
            logger.warning("document outbox flush failed: %r", exc)
            self._update_pending()

        term.run(lambda: self.doc_outbox.flush(send), done, failed)

    def _tell(self, report: FlushReport) -> None:
        """Say what became of the photos just taken; older ones delivered late are only counted."""
        message = self.term.message
        waiting = {e["id"] for e in self.doc_outbox.pending()}
        fresh_waiting = self._fresh & waiting
        delivered_fresh = [(e, d) for e, d in report.delivered if e["id"] in self._fresh]
        late = len(report.delivered) - len(delivered_fresh)
        if report.rejected:
            entry, exc = report.rejected[-1]
            message.show_error(
                f"{entry.get('number', '')} 材料未能上传：{exc.message_zh}（照片已保留在本机）"
            )
        elif fresh_waiting and report.stopped_by is not None:
            why = (
                const.DOCUMENT_QUEUED_LOGIN_ZH
                if isinstance(report.stopped_by, Unauthorized)
                else const.DOCUMENT_QUEUED_ZH
            )
            message.show_error(why)
            self._fresh -= fresh_waiting  # said once; the timer retries quietly
        elif delivered_fresh:
            entry, (_doc, nth) = delivered_fresh[-1]
            text = f"材料已上传（第{nth}份）" if nth else "材料已上传"
            text += f" · {entry.get('number', '')}"
            if late:
                text += f"；另补传暂存材料 {late} 份"
            message.show_ok(text)
        elif late:
            message.show_ok(f"网络已恢复，暂存材料已补传 {late} 份")
        self._fresh -= {e["id"] for e, _d in report.delivered} | {e["id"] for e, _x in report.rejected}
        self._update_pending()

    def _update_pending(self) -> None:
        n = len(self.doc_outbox.pending())
        self.pending_label.setText(f"待上传材料 {n} 份" if n else "")
