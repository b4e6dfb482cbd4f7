"""A machine's first start: the enrolment code (typed, or read from the managers' QR) for its device token.

One path for both ways in: `hall-kiosk --enrol CODE` and the first-start screen call `enrol_device`,
which exchanges the code (POST /devices/enrol) and keeps the token in the machine's data folder.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from kiosk import const
from kiosk.api import HallClient
from kiosk.config import KioskConfig, store_enrolment, with_enrolment
from kiosk.errors import ConfigError, KioskError
from wire.staff import EnrolOut

logger = logging.getLogger(__name__)


class NotEnrolmentQr(KioskError):
    """A QR code was read, but it is not a device enrolment code (a ticket, a web page …)."""

    code = "enrol.not_enrolment_qr"
    default_zh = "这不是设备登记二维码，请扫描管理页面“设备”中显示的二维码"
    default_en = "This is not a device enrolment QR code; scan the one on the managers' device page"


def code_from_qr(text: str) -> str:
    """The enrolment code in the managers' QR ("hall-enrol:<server>#ABCD-EFGH"); NotEnrolmentQr otherwise."""
    text = text.strip()
    if not text.startswith(const.ENROL_QR_PREFIX) or "#" not in text:
        raise NotEnrolmentQr()
    code = text.rsplit("#", 1)[1].strip()
    plain = code.replace("-", "")
    if not (const.ENROL_CODE_MIN <= len(plain) <= const.ENROL_CODE_MAX) or not plain.isalnum():
        raise NotEnrolmentQr()
    return code


def normalise_typed(code: str) -> str:
    """The typed code as the server takes it: letters and digits only, upper case."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def enrol_device(cfg: KioskConfig, client: HallClient, code: str) -> tuple[KioskConfig, EnrolOut]:
    """Exchange the code for this machine's token, keep it (data folder, mode 0600) and return the
    configuration that uses it, with the role the managers registered the machine for."""
    answer = client.enrol(code, cfg.effective_device_id)
    role = const.ROLE_OF_DEVICE.get(answer.role, cfg.role)
    store_enrolment(cfg.data_dir, answer.token, answer.hall_id, answer.window_id, role)
    logger.info("enrolled as %s of %s (%s)", answer.role, answer.hall_id, answer.label)
    return with_enrolment(replace(cfg, token=None)), answer


def client_for_enrolment(cfg: KioskConfig) -> HallClient:
    """A client for the configured server (enrolment at the command line needs an explicit address)."""
    if cfg.server in ("", "zeroconf"):
        raise ConfigError("登记本机须指定服务器地址（--server）", "enrolment needs --server")
    return HallClient(cfg.server, pin=cfg.server_pin or None)
