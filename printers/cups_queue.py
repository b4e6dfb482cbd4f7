"""CupsQueue: print raw ESC/POS through a CUPS queue with the lp and lpstat commands (cups-client)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

from devices.errors import DependencyMissing
from printers.const import CUPS_COMMAND_TIMEOUT_S, CUPS_POLL_S
from printers.errors import PrinterOffline
from printers.ipp_job import JOB_COMPLETED, IppError, JobState, get_job_state

logger = logging.getLogger(__name__)

_JOB_ID = re.compile(r"request id is (\S+)")


@dataclass(frozen=True)
class QueueState:
    """What CUPS says about a queue: stopped (disabled) or not, accepting jobs or not, and why."""

    enabled: bool
    accepting: bool
    reason: str = ""


def split_target(target: str) -> tuple[str | None, str]:
    """`queue`, `host/queue` or `host:port/queue` -> (server or None for the default CUPS, queue)."""
    server, _, queue = target.rpartition("/")
    return (server or None), queue


def _c_env() -> dict[str, str]:
    # lp and lpstat translate their output; parse it in the C locale only.
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


class CupsQueue:
    """A CUPS queue: `open()` checks it, `write()` collects the job, `submit()` prints it and waits for it to leave."""

    def __init__(self, target: str, job_timeout: float) -> None:
        self.target = target
        self.server, self.queue = split_target(target)
        self.job_timeout = job_timeout
        self.last_job_id: str | None = None
        self._buffer = bytearray()
        if not self.queue:
            raise ValueError(f"a CUPS printer target is a queue name (host:port/queue), not {target!r}")

    # ---- the commands -------------------------------------------------------------------
    def _run(
        self, tool: str, args: list[str], data: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        binary = shutil.which(tool)
        if binary is None:
            err = DependencyMissing("cups-client", "devices")
            err.args = (f"printing through CUPS needs the {tool} command (apt install cups-client)",)
            err.message_zh = f"通过 CUPS 打印需要 {tool} 命令（apt install cups-client）"
            raise err
        argv = [binary, *(["-h", self.server] if self.server else []), *args]
        try:
            return subprocess.run(
                argv,
                input=data,
                capture_output=True,
                env=_c_env(),
                timeout=CUPS_COMMAND_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise self._offline(
                f"`{tool}` got no answer from CUPS within {CUPS_COMMAND_TIMEOUT_S:.0f}s"
            ) from exc

    def _offline(self, why_en: str, why_zh: str = "") -> PrinterOffline:
        return PrinterOffline(
            f"Printer cups:{self.target}: {why_en}",
            message_zh=f"打印机（CUPS 队列 {self.queue}）{why_zh or '无法使用'}，请联系工作人员",
        )

    # ---- queue state --------------------------------------------------------------------
    def queue_state(self) -> QueueState:
        """Ask CUPS whether the queue exists, is enabled and accepts jobs (PrinterOffline when it cannot tell)."""
        proc = self._run("lpstat", ["-r", "-p", self.queue, "-a", self.queue])
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace").strip()
        if "scheduler is not running" in out:
            where = self.server or "the default server"
            raise self._offline(f"CUPS is not running on {where}", "的打印服务（CUPS）未运行")
        if proc.returncode != 0 or not out.strip():
            if "Invalid destination" in err or "does not exist" in err:
                raise self._offline(f"CUPS has no queue named {self.queue!r}", "不存在")
            raise self._offline(f"lpstat failed: {err or proc.returncode}")
        enabled = accepting = False
        reasons: list[str] = []
        for line in out.splitlines():
            if line.startswith("\t") or line.startswith(" "):
                if line.strip() and line.strip() not in reasons:
                    reasons.append(line.strip())
            elif line.startswith(f"printer {self.queue} "):
                enabled = " disabled since " not in line
            elif line.startswith(f"{self.queue} "):
                accepting = " not accepting " not in line and " accepting " in line
        return QueueState(enabled=enabled, accepting=accepting, reason="; ".join(reasons))

    def open(self) -> None:
        """Check the queue can take a ticket now; a stopped or rejecting queue is offline."""
        self._buffer.clear()
        state = self.queue_state()
        why = f" ({state.reason})" if state.reason else ""
        if not state.enabled:
            raise self._offline(f"the CUPS queue {self.queue!r} is stopped{why}", f"已暂停{why}")
        if not state.accepting:
            raise self._offline(
                f"the CUPS queue {self.queue!r} does not accept jobs{why}", f"拒绝打印任务{why}"
            )

    # ---- one job ------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Add bytes to the job being collected (nothing reaches CUPS before submit())."""
        self._buffer += data

    def submit(self, title: str = "ticket") -> str:
        """Hand the collected bytes to CUPS as one raw job and wait until the printer has taken them."""
        data = bytes(self._buffer)
        self._buffer.clear()
        proc = self._run("lp", ["-d", self.queue, "-o", "raw", "-t", title], data)
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace").strip()
        match = _JOB_ID.search(out)
        if proc.returncode != 0 or match is None:
            raise self._offline(
                f"CUPS refused the job: {err or out.strip() or proc.returncode}", "拒绝了打印任务"
            )
        job_id = match.group(1)
        self.last_job_id = job_id
        logger.info("CUPS job %s queued on %s (%d bytes)", job_id, self.queue, len(data))
        self._wait_job(job_id)
        return job_id

    def server_address(self) -> str:
        """The server lp talks to: the one in the target, else what `lpstat -H` resolves (CUPS_SERVER, client.conf)."""
        if self.server:
            return self.server
        proc = self._run("lpstat", ["-H"])
        address = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0 or not address:
            raise self._offline("cannot tell which CUPS server lp uses (lpstat -H failed)")
        return address

    def job_state(self, job_id: str, server: str | None = None) -> JobState | None:
        """The job's state from CUPS over IPP (None once CUPS forgot it); PrinterOffline if CUPS cannot be asked."""
        number = int(job_id.rsplit("-", 1)[1])
        try:
            return get_job_state(server or self.server_address(), self.queue, number, CUPS_COMMAND_TIMEOUT_S)
        except IppError as exc:
            # CUPS went away after taking the job: whether it printed cannot be known from here.
            raise self._offline(f"lost track of CUPS job {job_id}: {exc}", "状态未知") from exc

    def _wait_job(self, job_id: str) -> None:
        # CUPS accepts a job even when the printer behind the queue is unplugged and then keeps
        # retrying; a kiosk must not say "take your ticket" until the bytes left the queue.
        deadline = time.monotonic() + self.job_timeout
        server = self.server_address()
        state = self.job_state(job_id, server)
        while state is not None and not state.finished and time.monotonic() < deadline:
            time.sleep(CUPS_POLL_S)
            state = self.job_state(job_id, server)
        if state is None:
            # No job history kept (PreserveJobHistory No): it left the queue, its fate is unknown.
            logger.warning("CUPS forgot job %s before its end was seen; assuming it printed", job_id)
            return
        if not state.finished:
            # Cancel it: a ticket that comes out minutes later, after the citizen left, only confuses.
            self._run("cancel", [job_id])
            raise self._offline(
                f"CUPS job {job_id} did not reach the printer within {self.job_timeout:.0f}s "
                f"({state.message or state.name}); the job was cancelled",
                "没有响应，本次小票未打印",
            )
        if state.state != JOB_COMPLETED:
            raise self._offline(
                f"CUPS job {job_id} ended {state.name} without printing "
                f"({', '.join(state.reasons)}; {state.message})",
                "未能打印本次小票",
            )

    def close(self) -> None:
        """Drop anything not submitted (a job that failed halfway never prints half a ticket)."""
        self._buffer.clear()
