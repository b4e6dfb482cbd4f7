"""Protocol constants for every device driver and simulator in one place."""

from __future__ import annotations

# --- SAM serial ID-card reader frames (see docs: idcard serial protocol) ---
FRAME_HEADER = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = len(FRAME_HEADER)
# LEN counts every byte after itself (CHK included); a response needs SW1 SW2 SW3 + CHK.
MIN_RESPONSE_LEN = 4
MIN_REQUEST_LEN = 3
# Real replies top out at 2321 bytes; anything claiming far more is garbage, not a frame.
MAX_FRAME_LEN = 4096

# (CMD, PARA) pairs
CMD_RESET_SAM = (0x10, 0xFF)
CMD_SAM_STATUS = (0x11, 0xFF)
CMD_SAM_ID = (0x12, 0xFF)
CMD_FIND_CARD = (0x20, 0x01)
CMD_SELECT_CARD = (0x20, 0x02)
CMD_READ_BASE = (0x30, 0x01)
CMD_READ_FINGERPRINT = (0x30, 0x10)
CMD_READ_LATEST_ADDRESS = (0x30, 0x03)
CMD_SET_BAUD = 0x60

# SW3 status values
SW_SUCCESS = 0x90
SW_CARD_FOUND = 0x9F
SW_FIND_FAILED = 0x80
SW_SELECT_FAILED = 0x81
SW_READ_FAILED = 0x41
SW_SAM_FAILED = 0x60
SW_UNKNOWN_COMMAND = 0x21

BAUD_PARAS: dict[int, int] = {115200: 0x00, 57600: 0x01, 38400: 0x02, 19200: 0x03, 9600: 0x04}
DEFAULT_BAUD = 115200

# Reply payload sizes (after SW1 SW2 SW3, before CHK)
FIND_CARD_DATA_LEN = 4
CARD_SERIAL_LEN = 8
SAM_ID_LEN = 16
TEXT_LEN = 256
PHOTO_LEN = 1024
FINGERPRINT_LEN = 1024
LATEST_ADDRESS_LEN = 70

# The 256-byte UCS-2LE text block: (offset, length) per field.
RESIDENT_FIELDS: dict[str, tuple[int, int]] = {
    "name": (0, 30),
    "sex": (30, 2),
    "nation": (32, 4),
    "birth": (36, 16),
    "address": (52, 70),
    "id_number": (122, 36),
    "authority": (158, 30),
    "valid_from": (188, 16),
    "valid_to": (204, 16),
}
# Hong Kong / Macau / Taiwan residence permit extras inside the reserved area.
HMT_FIELDS: dict[str, tuple[int, int]] = {
    "travel_permit": (220, 18),
    "issue_count": (238, 4),
}
FOREIGNER_FIELDS: dict[str, tuple[int, int]] = {
    "name_en": (0, 120),
    "sex": (120, 2),
    "id_number": (122, 30),
    "nationality": (152, 6),
    "name": (158, 30),
    "valid_from": (188, 16),
    "valid_to": (204, 16),
    "birth": (220, 16),
    "version": (236, 4),
    "authority": (240, 8),
}
CARD_TYPE_OFFSET = 248
CARD_TYPE_FOREIGNER = "I"
CARD_TYPE_HMT = "J"
LONG_TERM = "长期"

SEX_NAMES: dict[str, str] = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}

# --- timing ---
# Readers must not be polled faster than this in production.
MIN_POLL_INTERVAL = 0.3
DEFAULT_TIMEOUT = 1.0
WRITE_TIMEOUT = 1.0
# The SAM needs time to read the card itself before the reply starts.
DEFAULT_READ_TIMEOUT = 3.0
# Bytes on the wire per byte of data at 8N1: start + 8 data + stop.
BITS_PER_BYTE_8N1 = 10

# --- PC/SC social security card ---
SOCSEC_AID = bytes.fromhex("7378312E73682E") + "社会保障".encode("gbk")
APDU_SELECT_AID_HEAD = bytes.fromhex("00A40400")
APDU_SELECT_FILE_HEAD = bytes.fromhex("00A40200")
APDU_READ_RECORD_CLA_INS = bytes.fromhex("00B2")
APDU_GET_RESPONSE_HEAD = bytes.fromhex("00C00000")
EF_CARD = bytes.fromhex("EF05")
EF_HOLDER = bytes.fromhex("EF06")
# tag -> expected value length
EF05_TAGS: dict[int, int] = {0x01: 16, 0x05: 4, 0x06: 4, 0x07: 9}
EF06_TAGS: dict[int, int] = {0x08: 18, 0x09: 30, 0x0A: 1, 0x0B: 1, 0x0C: 3, 0x0D: 4}
SW_OK = (0x90, 0x00)

# --- vsmartcard virtual reader (vpcd) ---
VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963
VPCD_POWER_OFF = 0
VPCD_POWER_ON = 1
VPCD_RESET = 2
VPCD_GET_ATR = 4

# Photo decoder plug-ins
PHOTO_DECODER_GROUP = "hall_system.photo_decoders"
PHOTO_DECODER_ENV = "HALL_PHOTO_DECODER"
PHOTO_WIDTH = 102
PHOTO_HEIGHT = 126
