"""Typed errors raised by every device driver; callers never see a raw OSError or SerialException."""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every device fault; `code` is stable and machine-readable."""

    code = "device.error"

    def __init__(self, message: str, *, message_zh: str | None = None) -> None:
        super().__init__(message)
        self.message_zh = message_zh or message


class DependencyMissing(DeviceError):
    """An optional library a driver needs is not installed."""

    code = "device.dependency_missing"

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module} is not installed; install it with: pip install 'hall-system[{extra}]'",
            message_zh=f"缺少 {module}，请安装：pip install 'hall-system[{extra}]'",
        )
        self.module = module


class ReaderNotFound(DeviceError):
    """No reader answers at the configured port or name."""

    code = "reader.not_found"


class ReaderDisconnected(DeviceError):
    """The reader went away (unplugged, port closed) while in use."""

    code = "reader.disconnected"


class ReaderTimeout(DeviceError):
    """The reader did not answer in time."""

    code = "reader.timeout"


class NoCard(DeviceError):
    """No card is on the reader."""

    code = "card.none"


class CardRemoved(DeviceError):
    """The card left the reader before it was read completely."""

    code = "card.removed"


class ReadFailed(DeviceError):
    """The reader reported that it could not read the card."""

    code = "card.read_failed"


class FrameError(DeviceError):
    """A frame from the device is malformed."""

    code = "frame.malformed"


class ChecksumError(FrameError):
    """A frame's checksum does not match its bytes."""

    code = "frame.checksum"


class CameraError(DeviceError):
    """A camera or frame source failed to open or deliver a frame."""

    code = "camera.error"


class InvalidCardData(DeviceError):
    """A card's data was read intact but makes no sense (bad date, wrong lengths, invalid ID number in strict mode)."""

    code = "card.invalid_data"


class PhotoDecoderMissing(DeviceError):
    """No vendor plug-in is installed that can decode the card's WLT photo."""

    code = "photo.no_decoder"
