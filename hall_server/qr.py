"""QR codes as inline SVG images (for the phone pages: no image file, no extra request)."""

from __future__ import annotations

import base64
import io
import logging

logger = logging.getLogger(__name__)


def qr_svg_data_uri(payload: str) -> str:
    """A `data:image/svg+xml;base64,...` QR of payload (medium error correction, 4-module quiet zone)."""
    # Imported here: only the phone pages draw QR codes, and qrcode (with its image
    # machinery) is a noticeable part of every server's start-up otherwise.
    import qrcode
    import qrcode.image.svg

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=10)
    qr.add_data(payload)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image(image_factory=qrcode.image.svg.SvgPathFillImage).save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")
