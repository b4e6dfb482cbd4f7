"""ApiError factory for the codes in ext_const.EXT_ERRORS (appointments, follow-ups, matters, stats)."""

from __future__ import annotations

import contextlib
from typing import Any

from hall_server.errors import ApiError
from hall_server.services.ext_const import EXT_ERRORS


def ext_error(code: str, **detail: Any) -> ApiError:
    """An ApiError with this package's status and zh/en messages; {names} in the zh text come from detail."""
    status, zh, en = EXT_ERRORS[code]
    with contextlib.suppress(KeyError, IndexError):
        zh = zh.format(**detail)
    return ApiError(code, status=status, message=zh, message_en=en, **detail)
