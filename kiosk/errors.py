"""Typed errors the kiosk UI shows; each carries a stable code and a zh_CN message."""

from __future__ import annotations

from typing import Any

from wire.errors import ErrorCode


class KioskError(Exception):
    """Base of every error the UI can show to a visitor or clerk."""

    code = "kiosk.error"
    default_zh = "操作失败，请稍后再试"
    default_en = "The operation failed, please try again"

    def __init__(
        self, message_zh: str | None = None, message_en: str | None = None, *, code: str | None = None
    ) -> None:
        self.message_zh = message_zh or self.default_zh
        self.message_en = message_en or self.default_en
        if code:
            self.code = code
        super().__init__(f"{self.code}: {self.message_en}")


class ServerUnreachable(KioskError):
    """The hall server could not be reached (refused, reset, DNS, timeout)."""

    code = "net.unreachable"
    default_zh = "暂时无法连接服务器，请稍后再试或联系工作人员"
    default_en = "The hall server cannot be reached"


class ServerTimeout(ServerUnreachable):
    """The hall server did not answer in time."""

    code = "net.timeout"
    default_zh = "服务器响应超时，请稍后再试"
    default_en = "The hall server did not answer in time"


class DiscoveryFailed(ServerUnreachable):
    """No hall server was found on the LAN by zeroconf."""

    code = "net.discovery_failed"
    default_zh = "未在局域网内找到大厅服务器"
    default_en = "No hall server found on the LAN"


class PinMismatch(KioskError):
    """The server's TLS certificate is not the one pinned in this machine's configuration."""

    code = "net.pin_mismatch"
    default_zh = "服务器证书与本机配置的指纹不符，已拒绝连接，请联系管理员"
    default_en = "The server's certificate does not match the pinned fingerprint; connection refused"

    def __init__(self, expected: str = "", got: str = "") -> None:
        self.expected = expected
        self.got = got
        en = self.default_en + (f" (expected {expected[:16]}…, got {got[:16]}…)" if expected and got else "")
        super().__init__(None, en)


class ConfigError(KioskError):
    """The machine's configuration is missing or wrong."""

    code = "config.invalid"
    default_zh = "本机配置有误，请联系管理员"
    default_en = "This machine's configuration is invalid"


class ApiError(KioskError):
    """The server answered with an error body; code and messages come from it."""

    code = "api.error"

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message_zh: str | None = None,
        message_en: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.detail = detail or {}
        super().__init__(message_zh, message_en, code=code)


class Unauthorized(ApiError):
    """401: the token is missing, wrong or revoked."""

    code = "auth.unauthorized"
    default_zh = "登录已失效，请重新登录"
    default_en = "Not authorised, please log in again"


class Forbidden(ApiError):
    """403: this device or clerk may not do that."""

    code = "auth.forbidden"
    default_zh = "无权执行此操作"
    default_en = "Not allowed"


class NotFound(ApiError):
    """404: the ticket, service or window does not exist."""

    code = "not_found"
    default_zh = "未找到相关记录"
    default_en = "Not found"


class Conflict(ApiError):
    """409: the state does not allow the operation (illegal transition, recall cap...)."""

    code = "conflict"
    default_zh = "当前状态不允许此操作"
    default_en = "Not allowed in the current state"


class InvalidRequest(ApiError):
    """400/422: the input was refused (invalid ID number, unknown service...)."""

    code = "request.invalid"
    default_zh = "输入有误，请检查后重试"
    default_en = "Invalid input"


class QueueEmpty(ApiError):
    """call-next found nobody waiting."""

    code = ErrorCode.QUEUE_EMPTY.value
    default_zh = "当前没有等候的号码"
    default_en = "Nobody is waiting"


class ServerError(ApiError):
    """5xx: the server failed."""

    code = "server.error"
    default_zh = "服务器内部错误，请稍后再试"
    default_en = "Server error"


class UnexpectedAnswer(ServerError):
    """The server answered 2xx, but not in the shape of the wire model (a server of another version?)."""

    code = "response.unexpected"
    default_zh = "服务器返回的数据与本机程序版本不符，请联系管理员"
    default_en = "The server's answer does not match this kiosk's version"

    def __init__(self, status: int, what: str, model: str, problems: list[str]) -> None:
        en = f"The answer to {what} is not a {model}: " + "; ".join(problems[:3])
        super().__init__(status, self.code, None, en, {"request": what, "model": model, "problems": problems})


class FeatureUnavailable(ApiError):
    """The server does not offer this endpoint yet (e.g. appointment check-in)."""

    code = "feature.unavailable"
    default_zh = "本大厅暂未开通此功能，请到服务台咨询"
    default_en = "This hall does not offer this yet"


class PrintFailed(KioskError):
    """The ticket or guide could not be printed; the UI keeps it on screen."""

    code = "printer.error"
    default_zh = "打印失败，请拍照或记下屏幕上的号码"
    default_en = "Printing failed; please note the number on screen"


_BY_CODE: dict[str, type[ApiError]] = {ErrorCode.QUEUE_EMPTY.value: QueueEmpty}
_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
}


def error_from_response(status: int, body: Any) -> ApiError:
    """Map an HTTP error status and the server's JSON error body to a typed exception."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        err = {}
    code = err.get("code") if isinstance(err.get("code"), str) else None
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    detail = err.get("detail") if isinstance(err.get("detail"), dict) else None
    return cls(status, code, err.get("message"), err.get("message_en"), detail)


class UnpinnedDiscovery(ConfigError):
    """A server found by zeroconf, but no certificate pin to check it against (and none allowed)."""

    code = "config.unpinned_discovery"
    default_zh = "本机未配置服务器证书指纹，不能使用局域网自动发现的服务器，请联系管理员"
    default_en = (
        "A server found by discovery is refused without server_pin (set allow_unpinned_discovery to accept)"
    )
