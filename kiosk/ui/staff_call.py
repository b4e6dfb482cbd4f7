"""呼叫工作人员 on the visitor screens: the call goes to the hall server (queued while it is out of reach),
and the screen says 工作人员马上就到 until a manager acknowledges it on the dashboard or a timeout."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from kiosk import const
from kiosk.errors import ServerUnreachable
from kiosk.outbox import StaffCallOutbox
from kiosk.ui.context import AppContext
from wire import StaffCallOut

logger = logging.getLogger(__name__)

IDLE, SENDING, QUEUED, WAITING = "idle", "sending", "queued", "waiting"


class StaffCaller(QObject):
    """One kiosk's staff call: at most one at a time (a second tap is no second call)."""

    state_changed = Signal(str)  # idle | sending | queued | waiting
    refused = Signal(object)  # the server's refusal (too many calls): the screen says it

    def __init__(self, ctx: AppContext, run: Callable[..., None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.run = run
        self.state = IDLE
        self.call_id: str | None = None
        self.acknowledged_by: str | None = None
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(const.STAFF_CALL_RETRY_MS)
        self._retry.timeout.connect(self._send)
        self._wait = QTimer(self)
        self._wait.setSingleShot(True)
        self._wait.setInterval(const.STAFF_CALL_WAIT_S * 1000)
        self._wait.timeout.connect(lambda: self._set(IDLE))
        ctx.events.event.connect(self._on_event)
        ctx.events.online_changed.connect(self._online)
        # A call queued before a restart is still owed to the hall: read in the task pool, sent again.
        self.outbox = StaffCallOutbox(Path(ctx.config.data_dir) / const.STAFF_CALL_OUTBOX)
        hall = ctx.hall_id
        self.run(lambda: self.outbox.pending(hall), self._resume, lambda exc: logger.error("%s", exc))

    def _resume(self, pending: list[str]) -> None:
        if not pending or self.state != IDLE:
            return
        logger.info("staff call %s queued before the restart: sent again", pending[0])
        self.call_id = pending[0]
        self._set(QUEUED)
        self._send()

    def call(self) -> None:
        """Call the hall's floor staff (nothing more while a call is under way)."""
        if self.state != IDLE:
            return
        self.call_id = uuid.uuid4().hex
        self.acknowledged_by = None
        self._send()

    def _send(self) -> None:
        if self.call_id is None:
            return
        self._set(SENDING if self.state != QUEUED else QUEUED)
        client, hall, call_id, outbox = self.ctx.client, self.ctx.hall_id, self.call_id, self.outbox

        def send() -> StaffCallOut:
            try:
                call = client.call_staff(hall, call_id)
            except ServerUnreachable:
                outbox.keep(hall, call_id)  # on disk before the screen says 求助已记下
                raise
            except Exception:
                outbox.forget(call_id)  # refused for good: not sent again after a restart
                raise
            outbox.forget(call_id)
            return call

        self.run(send, self._sent, self._failed)

    def _sent(self, call: StaffCallOut) -> None:
        if self.call_id is None:
            return
        # The server may answer with this kiosk's call that is still open (an earlier one).
        self.call_id = call.id
        if call.acknowledged_at:
            self._set(IDLE)
            return
        self._wait.start()
        self._set(WAITING)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, ServerUnreachable):
            # Nothing is lost: the same call id is sent again until the server has it.
            logger.warning("staff call %s queued: %s", self.call_id, exc)
            self._set(QUEUED)
            self._retry.start()
            return
        logger.warning("staff call refused: %s", exc)
        self.call_id = None
        self._set(IDLE)
        self.refused.emit(exc)

    def _online(self, online: bool) -> None:
        if online and self.state == QUEUED:
            self._retry.stop()
            self._send()

    def _on_event(self, ev: dict[str, Any]) -> None:
        if ev.get("type") != const.EV_STAFF_CALL_ACKNOWLEDGED or self.call_id is None:
            return
        call = (ev.get("payload") or {}).get("call") or {}
        if call.get("id") == self.call_id:
            self.acknowledged_by = call.get("acknowledged_by")
            self._set(IDLE)

    def _set(self, state: str) -> None:
        if state == IDLE:
            self.call_id = None
            self._retry.stop()
            self._wait.stop()
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)
