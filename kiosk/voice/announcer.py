"""Queues call announcements so they never cut each other off; each is chimed and repeated."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kiosk import const
from kiosk.voice.chime import chime_wav
from kiosk.voice.pack import VoicePack
from kiosk.voice.speaker import Speaker
from kiosk.voice.tts import EspeakSynthesizer
from kiosk.voice.wav import silence_wav
from kiosk.voice.words import call_phrases, call_text, call_words, recall_text, recall_words

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Announcement:
    """One thing to say: the words fed to the synthesizer, the text shown, the voice pack's clips."""

    words: str
    text: str
    # Clip names grouped in phrases, the chime first: (("chime",), ("请",), ("A", "零", "零", "一", "号"), ...).
    # Also what a recording of the call is made of, so files can be named by what they say.
    phrases: tuple[tuple[str, ...], ...] = ()

    @property
    def clips(self) -> list[str]:
        """The clip names in the order they are played."""
        return [clip for phrase in self.phrases for clip in phrase]


def call_announcement(number: str, window_number: int | str, *, recall: bool = False) -> Announcement:
    """The announcement of a call (请A001号到3号窗口办理) or a recall (请A001号再次到3号窗口办理)."""
    window = int(window_number)
    words = recall_words(number, window) if recall else call_words(number, window)
    text = recall_text(number, window) if recall else call_text(number, window)
    phrases = tuple(tuple(p) for p in call_phrases(number, window, recall=recall))
    return Announcement(words, text, phrases)


class Announcer:
    """One playback thread drains a FIFO: chime, then the speech `repeats` times with a gap.

    With a voice pack the speech is the pack's clips joined; without one, espeak-ng speaks the words.
    """

    def __init__(
        self,
        speaker: Speaker,
        synthesizer: EspeakSynthesizer | None = None,
        *,
        repeats: int = const.VOICE_REPEATS_DEFAULT,
        chime: bool = True,
        gap_s: float = const.VOICE_GAP_S,
        on_spoken: Callable[[Announcement], None] | None = None,
        pack: VoicePack | None = None,
    ) -> None:
        self.speaker = speaker
        self.synth = synthesizer or EspeakSynthesizer()
        self.pack = pack
        self.repeats = max(1, repeats)
        self.chime = chime
        self.gap = silence_wav(gap_s) if gap_s > 0 else b""
        self.on_spoken = on_spoken
        self.spoken: list[Announcement] = []
        # Why the last announcement failed (None after one that worked): the health monitor
        # reports it, the screen goes on without voice.
        self.last_error: str | None = None
        self._q: queue.Queue[Announcement | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread.start()

    def announce_call(self, number: str, window_number: int | str, *, recall: bool = False) -> Announcement:
        """Queue '请A001号到3号窗口办理' (a recall: '请A001号再次到3号窗口办理')."""
        a = call_announcement(number, window_number, recall=recall)
        self.say(a)
        return a

    def say(self, announcement: Announcement) -> None:
        """Queue an announcement behind those already waiting."""
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._q.put(announcement)

    def drop_pending(self) -> int:
        """Forget the announcements not yet started (a prompt the visitor has moved past)."""
        dropped = 0
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                break
            if item is None:  # close() asked: keep that for the thread
                self._q.put(None)
                break
            dropped += 1
        with self._lock:
            self._pending -= dropped
            if self._pending == 0:
                self._idle.set()
        return dropped

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything queued has been played."""
        return self._idle.wait(timeout)

    @property
    def backlog(self) -> int:
        """Announcements not yet started."""
        return self._q.qsize()

    def close(self) -> None:
        """Finish the current announcement and stop."""
        self._q.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                self._idle.set()
                return
            try:
                self._speak(item)
                self.last_error = None
            except Exception as exc:
                self.last_error = f"播报失败：{type(exc).__name__}"
                logger.exception("announcement failed: %s", item.text)
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    def _speak(self, a: Announcement) -> None:
        chime, speech = self._render(a)
        if self.chime and chime:
            self.speaker.play(chime)
        if speech is None:
            logger.warning("no synthesizer; only the chime for %s", a.text)
        else:
            for i in range(self.repeats):
                if i and self.gap:
                    self.speaker.play(self.gap)
                self.speaker.play(speech)
        self.spoken.append(a)
        if self.on_spoken:
            self.on_spoken(a)

    def chime_audio(self) -> bytes:
        """The chime played before each announcement: the pack's own, else the built-in one."""
        return self.pack.render([("chime",)]) if self.pack is not None else chime_wav()

    def _render(self, a: Announcement) -> tuple[bytes | None, bytes | None]:
        """(chime, speech) as WAV bytes: from the pack when there is one and it knows the clips."""
        if self.pack is not None and a.phrases:
            speech_phrases = [p for p in a.phrases if p != ("chime",)]
            return self.chime_audio(), self.pack.render(speech_phrases)
        speech = self.synth.synthesize(a.words) if self.synth.available else None
        return self.chime_audio(), speech
