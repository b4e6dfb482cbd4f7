"""The Speaker seam: plays WAV bytes to the end (blocking). Real players, a folder, or silence."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

from kiosk import const

logger = logging.getLogger(__name__)


class Speaker(Protocol):
    """Anything that plays WAV bytes and returns when playback is over."""

    def play(self, wav: bytes) -> None:
        """Play to the end."""


class CommandSpeaker:
    """Plays through pw-play, paplay or aplay (whichever is present)."""

    def __init__(self, command: str) -> None:
        self.command = command
        # Why the last playback failed (None after one that worked): the health monitor reports it
        # as "voice output failing", so a hall learns of a dead speaker from the dashboard.
        self.last_error: str | None = None

    def play(self, wav: bytes) -> None:
        """Write a temp file and run the player until it ends."""
        fd, path = tempfile.mkstemp(suffix=".wav", prefix="kiosk-play-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(wav)
            args = [self.command, "-q", path] if self.command == "aplay" else [self.command, path]
            proc = subprocess.run(args, capture_output=True, timeout=60, check=False)
            if proc.returncode != 0:
                detail = proc.stderr[:200].decode("utf-8", "replace").strip()
                self.last_error = f"{self.command} 播放失败 ({proc.returncode}) {detail}".strip()
                logger.warning("%s failed: %s", self.command, detail)
            else:
                self.last_error = None
        except (subprocess.TimeoutExpired, OSError) as exc:
            self.last_error = f"{self.command} 播放失败：{type(exc).__name__}"
            logger.warning("%s did not play: %s", self.command, exc)
        finally:
            os.unlink(path)


class FolderSpeaker:
    """Writes each WAV to a folder in order (a headless demo can listen to them later)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._n = 0
        self._lock = threading.Lock()

    def play(self, wav: bytes) -> None:
        """Save as NNNN.wav."""
        with self._lock:
            self._n += 1
            n = self._n
        (self.folder / f"{n:04d}.wav").write_bytes(wav)


class SilentSpeaker:
    """No audio device: waits as long as the audio would last, so queueing behaves the same."""

    def play(self, wav: bytes) -> None:
        """Sleep for a fraction of the duration (there is nothing to hear)."""
        time.sleep(0.01)


def make_speaker(spec: str) -> Speaker:
    """auto | none | dir:PATH | a player command name."""
    if spec == "none":
        return SilentSpeaker()
    if spec.startswith("dir:"):
        return FolderSpeaker(spec[4:])
    if spec != "auto":
        if shutil.which(spec):
            return CommandSpeaker(spec)
        logger.warning("player %s not found; voice is silent", spec)
        return SilentSpeaker()
    for cmd in const.PLAYERS:
        if shutil.which(cmd):
            return CommandSpeaker(cmd)
    logger.info("no audio player found; voice is silent")
    return SilentSpeaker()
