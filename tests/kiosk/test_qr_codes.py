"""What the kiosk takes from a QR code: the managers' enrolment QR and a booking confirmation's QR."""

from __future__ import annotations

import pytest

from kiosk.enrolment import NotEnrolmentQr, code_from_qr, normalise_typed
from kiosk.ui.scan_checkin import NotBookingQr, booking_code_of


def test_the_enrolment_qr_gives_its_code_and_nothing_else_passes() -> None:
    assert code_from_qr("hall-enrol:https://hall.example.gov.cn#ABCD-EFGH") == "ABCD-EFGH"
    assert code_from_qr("hall-enrol:#ABCD-EFGH\n") == "ABCD-EFGH"  # a server without public_url
    for text in (
        "https://hall.example.gov.cn/t/abc#x",  # a ticket's phone link
        "ABCD-EFGH",  # the code alone is typed, not scanned
        "hall-enrol:https://x",  # no code
        "hall-enrol:https://x#AB",  # too short
        "hall-enrol:https://x#ABCD-EF<H",
    ):
        with pytest.raises(NotEnrolmentQr) as refused:
            code_from_qr(text)
        assert "不是设备登记二维码" in refused.value.message_zh
    assert normalise_typed(" abcd-efgh ") == "ABCDEFGH"


def test_the_booking_qr_is_its_code() -> None:
    assert booking_code_of(" k7mq2xpa\n") == "K7MQ2XPA"
    for text in ("http://hall/t/x", "hall-enrol:x#ABCD-EFGH", "ABC", "预约号ABCDEFGH", "A" * 17):
        with pytest.raises(NotBookingQr):
            booking_code_of(text)
