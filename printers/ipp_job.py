"""Ask a CUPS server for one job's state with a minimal IPP Get-Job-Attributes request (stdlib only)."""

from __future__ import annotations

import getpass
import http.client
import logging
import socket
import struct
from dataclasses import dataclass

logger = logging.getLogger(__name__)

IPP_GET_JOB_ATTRIBUTES = 0x0009
IPP_STATUS_NOT_FOUND = 0x0406
TAG_OPERATION = 0x01
TAG_END = 0x03
TAG_INTEGER = 0x21
TAG_KEYWORD = 0x44
TAG_URI = 0x45
TAG_CHARSET = 0x47
TAG_LANGUAGE = 0x48
TAG_NAME = 0x42
DEFAULT_IPP_PORT = 631

# RFC 8011 job-state values.
JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED = 3, 4, 5, 6
JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
JOB_STATE_NAMES = {
    JOB_PENDING: "pending",
    JOB_HELD: "held",
    JOB_PROCESSING: "processing",
    JOB_STOPPED: "processing-stopped",
    JOB_CANCELED: "canceled",
    JOB_ABORTED: "aborted",
    JOB_COMPLETED: "completed",
}


class IppError(Exception):
    """The server could not be asked, or answered something that is not IPP."""


@dataclass(frozen=True)
class JobState:
    """One job as CUPS sees it: state enum, state reasons and the printer's last message for it."""

    state: int
    reasons: tuple[str, ...] = ()
    message: str = ""

    @property
    def finished(self) -> bool:
        """True once the job left the queue one way or another."""
        return self.state >= JOB_CANCELED

    @property
    def name(self) -> str:
        """The RFC 8011 keyword of the state."""
        return JOB_STATE_NAMES.get(self.state, str(self.state))


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over CUPS's local domain socket (/run/cups/cups.sock)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _connection(server: str, timeout: float) -> http.client.HTTPConnection:
    if server.startswith("/"):
        return _UnixHTTPConnection(server, timeout)
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        port = int(rest.lstrip(":") or DEFAULT_IPP_PORT)
    else:
        host, _, port_text = server.partition(":")
        port = int(port_text or DEFAULT_IPP_PORT)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _attribute(tag: int, name: str, value: bytes) -> bytes:
    raw = name.encode("ascii")
    return bytes([tag]) + struct.pack(">H", len(raw)) + raw + struct.pack(">H", len(value)) + value


def _request(queue: str, job_number: int) -> bytes:
    body = struct.pack(">BBHI", 2, 0, IPP_GET_JOB_ATTRIBUTES, 1) + bytes([TAG_OPERATION])
    body += _attribute(TAG_CHARSET, "attributes-charset", b"utf-8")
    body += _attribute(TAG_LANGUAGE, "attributes-natural-language", b"en")
    body += _attribute(TAG_URI, "printer-uri", f"ipp://localhost/printers/{queue}".encode())
    body += _attribute(TAG_INTEGER, "job-id", struct.pack(">i", job_number))
    body += _attribute(TAG_NAME, "requesting-user-name", getpass.getuser().encode())
    body += _attribute(TAG_KEYWORD, "requested-attributes", b"job-state")
    for extra in (b"job-state-reasons", b"job-printer-state-message"):
        body += _attribute(TAG_KEYWORD, "", extra)  # an empty name adds a value to the previous one
    return body + bytes([TAG_END])


def parse_response(data: bytes) -> tuple[int, dict[str, list[bytes]]]:
    """(status-code, attributes by name) of an IPP response; IppError on truncated or foreign data."""
    if len(data) < 8 or data[0] not in (1, 2):
        raise IppError("the answer is not an IPP response")
    status = struct.unpack(">H", data[2:4])[0]
    attrs: dict[str, list[bytes]] = {}
    pos, name = 8, ""
    try:
        while pos < len(data):
            tag = data[pos]
            pos += 1
            if tag == TAG_END:
                break
            if tag < 0x10:  # a group delimiter
                continue
            (name_len,) = struct.unpack(">H", data[pos : pos + 2])
            name = data[pos + 2 : pos + 2 + name_len].decode("utf-8", "replace") or name
            pos += 2 + name_len
            (value_len,) = struct.unpack(">H", data[pos : pos + 2])
            value = data[pos + 2 : pos + 2 + value_len]
            if len(value) != value_len:
                raise IppError("truncated IPP attribute")
            pos += 2 + value_len
            attrs.setdefault(name, []).append(value)
    except struct.error as exc:
        raise IppError("truncated IPP response") from exc
    return status, attrs


def get_job_state(server: str, queue: str, job_number: int, timeout: float) -> JobState | None:
    """The job's state on `server` (host:port or a socket path); None if CUPS does not know the job."""
    conn = _connection(server, timeout)
    try:
        conn.request(
            "POST", "/jobs/", body=_request(queue, job_number), headers={"Content-Type": "application/ipp"}
        )
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise IppError(f"cannot reach CUPS at {server}: {exc}") from exc
    finally:
        conn.close()
    if response.status != 200:
        raise IppError(f"CUPS at {server} answered HTTP {response.status}")
    status, attrs = parse_response(data)
    if status == IPP_STATUS_NOT_FOUND:
        return None
    if status > 0x00FF or not attrs.get("job-state"):
        raise IppError(f"CUPS at {server} answered IPP status 0x{status:04x} for job {job_number}")
    if len(attrs["job-state"][0]) != 4:
        raise IppError(f"CUPS at {server} sent a malformed job-state for job {job_number}")
    state = struct.unpack(">i", attrs["job-state"][0])[0]
    reasons = tuple(v.decode("utf-8", "replace") for v in attrs.get("job-state-reasons", []))
    message = b"".join(attrs.get("job-printer-state-message", [])[:1]).decode("utf-8", "replace")
    return JobState(state=state, reasons=reasons, message=message)
