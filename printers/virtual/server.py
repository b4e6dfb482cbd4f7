"""VirtualPrinter: a TCP 9100 receipt printer that renders every cut page to a numbered PNG."""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
from pathlib import Path

from printers.const import (
    DOTS_BY_WIDTH_MM,
    ST1_OFFLINE,
    ST2_COVER_OPEN,
    ST2_PAPER_END_STOP,
    ST4_NEAR_END,
    ST4_PAPER_END,
    STATUS_FIXED,
)
from printers.virtual.model import Page
from printers.virtual.parser import EscPosParser
from printers.virtual.render import paper_image, render_page

logger = logging.getLogger(__name__)

POLL_S = 0.2
RECV_SIZE = 65536


class VirtualPrinter:
    """A network receipt printer in a thread; `paper_out`, `paper_low`, `cover_open` can be played."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9100,
        out_dir: str | Path | None = None,
        width_mm: int = 80,
        chinese_default: bool = True,
        keep_documents: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.out_dir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="virtual-printer-"))
        self.width_dots = DOTS_BY_WIDTH_MM[width_mm]
        self.paper_out = False
        self.paper_low = False
        self.cover_open = False
        self.pages: list[Path] = []
        self.documents: list[Page] = []  # parsed pages; only the newest `keep_documents` if set
        self.keep_documents = keep_documents
        self.page_times: list[float] = []  # time.monotonic() when each PNG was written
        self.received_bytes = 0
        self.discarded_bytes = 0
        self.connections = 0
        self._parser = EscPosParser(self.width_dots, chinese_default, status=self.status_byte)
        self._lock = threading.Lock()
        self._job_lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    # ---- status the printer reports -------------------------------------------------------
    @property
    def offline(self) -> bool:
        """A real printer goes offline while the paper is out or the cover is open."""
        return self.paper_out or self.cover_open

    def status_byte(self, n: int) -> int:
        """The answer to DLE EOT n for the current paper and cover state."""
        value = STATUS_FIXED
        if n == 1 and self.offline:
            value |= ST1_OFFLINE
        elif n == 2:
            value |= (ST2_COVER_OPEN if self.cover_open else 0) | (
                ST2_PAPER_END_STOP if self.paper_out else 0
            )
        elif n == 4:
            value |= (ST4_NEAR_END if self.paper_low or self.paper_out else 0) | (
                ST4_PAPER_END if self.paper_out else 0
            )
        return value

    @property
    def problems(self) -> list:
        """Malformed commands the parser skipped (typed EscPosParseError values)."""
        return list(self._parser.problems)

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> VirtualPrinter:
        """Listen (port 0 picks a free one; `.port` then tells which) and serve in a thread."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(8)
        sock.settimeout(POLL_S)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._stop.clear()
        self._spawn(self._accept_loop, "virtual-printer-accept")
        logger.info("virtual printer listening on %s:%d, pages go to %s", self.host, self.port, self.out_dir)
        return self

    def stop(self) -> None:
        """Stop listening, close connections and wait for the threads."""
        self._stop.set()
        if self._sock:
            self._sock.close()
            self._sock = None
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> VirtualPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target, name: str, *args: object) -> None:  # type: ignore[no-untyped-def]
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    # ---- serving ------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            sock = self._sock
            if sock is None:
                return
            try:
                conn, peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._spawn(self._serve, f"virtual-printer-{peer[1]}", conn)

    def _serve(self, conn: socket.socket) -> None:
        # Like a real port-9100 printer, one connection is served at a time; others wait their turn.
        while not self._job_lock.acquire(timeout=POLL_S):
            if self._stop.is_set():
                conn.close()
                return
        try:
            self._serve_one(conn)
        finally:
            self._job_lock.release()

    def _serve_one(self, conn: socket.socket) -> None:
        conn.settimeout(POLL_S)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(RECV_SIZE)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                replies = self.feed(data)
                if replies:
                    try:
                        conn.sendall(replies)
                    except OSError:
                        break
        with self._lock:
            result = self._parser.finish()
            self._store(result.pages)

    def feed(self, data: bytes) -> bytes:
        """Process bytes as if received on the wire; returns the status bytes to send back."""
        with self._lock:
            self.received_bytes += len(data)
            self._parser.set_discarding(self.offline)
            if self.offline:
                self.discarded_bytes += len(data)
            result = self._parser.feed(data)
            self._store(result.pages)
            return result.replies

    def _store(self, pages: list[Page]) -> None:
        """Render completed pages to numbered PNGs (caller holds the lock)."""
        for page in pages:
            path = self.out_dir / f"{len(self.pages) + 1:04d}.png"
            paper_image(render_page(page, self.width_dots)).save(path)
            self.documents.append(page)
            if self.keep_documents is not None and len(self.documents) > self.keep_documents:
                del self.documents[0]  # a long-running simulator must not grow without bound
            self.page_times.append(time.monotonic())
            self.pages.append(path)
            logger.info("virtual printer printed %s (%d text lines)", path, len(page.text_lines))
        if pages:
            self._changed.notify_all()

    def wait_for_pages(self, count: int, timeout: float = 10.0) -> list[Path]:
        """Block until at least `count` pages are printed; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.pages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"virtual printer has {len(self.pages)} pages, expected {count}")
                self._changed.wait(left)
            return list(self.pages)
