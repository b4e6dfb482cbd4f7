"""The error a use case raises: a stable code with zh_CN and English messages from the one table."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from hall_server.const import ERRORS
from queueing.errors import DomainError

logger = logging.getLogger(__name__)


class HallError(DomainError):
    """A use case refused; the code picks the messages (and, at the API seam, the HTTP status).

    A `{name}` in the table's Chinese message is filled from the detail of the same name.
    """

    def __init__(
        self, code: str, /, *, message: str | None = None, message_en: str | None = None, **detail: Any
    ) -> None:
        _, zh, en = ERRORS.get(code, (0, code, code))
        if message is None:
            with contextlib.suppress(KeyError, IndexError, ValueError):
                zh = zh.format(**detail)
        super().__init__(code, message or zh, message_en or en, **detail)

    @property
    def message(self) -> str:
        """The zh_CN message."""
        return self.message_zh
