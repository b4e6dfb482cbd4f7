"""A voice pack: a folder of recorded word clips joined into a call, with synthesis for missing words."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kiosk.voice import pcm
from kiosk.voice.chime import chime_wav
from kiosk.voice.tts import EspeakSynthesizer, SynthesisFailed

logger = logging.getLogger(__name__)

PACK_FILE = "pack.json"
# Where `hall-kiosk voice-pack build` puts the synthesized pack at install time (not committed).
DEFAULT_PACK_DIR = Path(__file__).resolve().parents[2] / "assets" / "voice" / "default"


@dataclass(frozen=True)
class PackSettings:
    """pack.json: the sample rate every clip is brought to, the pauses and the fade at each join."""

    rate: int = 22050
    word_gap_ms: float = 20.0
    phrase_gap_ms: float = 120.0
    chime_gap_ms: float = 300.0
    fade_ms: float = 6.0
    # word -> file name, for packs whose recording tool cannot write 请.wav (e.g. {"请": "qing.wav"}).
    files: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> PackSettings:
        """Read pack.json if the folder has one; defaults otherwise."""
        path = folder / PACK_FILE
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class VoicePack:
    """Clips from a folder, brought to one sample format; missing words are synthesized."""

    def __init__(self, folder: str | Path, synthesizer: EspeakSynthesizer | None = None) -> None:
        self.folder = Path(folder)
        self.settings = PackSettings.load(self.folder)
        self.synth = synthesizer or EspeakSynthesizer()
        self._clips: dict[str, np.ndarray | None] = {}

    @property
    def rate(self) -> int:
        """The output sample rate (mono, 16-bit)."""
        return self.settings.rate

    def path_of(self, word: str) -> Path:
        """The clip file of a word (it may not exist)."""
        return self.folder / self.settings.files.get(word, f"{word}.wav")

    def has(self, word: str) -> bool:
        """Whether the pack records this word itself."""
        return self.path_of(word).is_file()

    def clip(self, word: str) -> np.ndarray | None:
        """The word's samples at the pack's rate: the recorded clip, else synthesized; None if neither."""
        if word not in self._clips:
            self._clips[word] = self._load(word)
        return self._clips[word]

    def _load(self, word: str) -> np.ndarray | None:
        path = self.path_of(word)
        if path.is_file():
            try:
                samples, rate = pcm.read_wav(path.read_bytes())
                return pcm.resample(samples, rate, self.rate)
            except (OSError, ValueError, EOFError) as exc:
                logger.warning("voice pack clip %s is unreadable (%s); synthesizing it", path, exc)
        if word == "chime":
            samples, rate = pcm.read_wav(chime_wav())
            return pcm.resample(samples, rate, self.rate)
        if not self.synth.available:
            logger.warning("voice pack %s has no clip for %s and espeak-ng is missing", self.folder, word)
            return None
        try:
            samples, rate = pcm.read_wav(self.synth.synthesize(word))
        except SynthesisFailed:
            logger.warning("could not synthesize %s for voice pack %s", word, self.folder)
            return None
        # Synthesized words carry silence at both ends; trimmed, they join like recorded clips.
        return pcm.resample(pcm.trim(samples, rate), rate, self.rate)

    def render(self, phrases: Sequence[Sequence[str]]) -> bytes:
        """Join phrases of words into one WAV: fades at every join, the pack's pauses between."""
        s = self.settings
        parts: list[np.ndarray] = []
        last: tuple[int, str] | None = None  # (phrase index, word) of the last clip joined
        for pi, phrase in enumerate(phrases):
            for word in phrase:
                samples = self.clip(word)
                if samples is None or len(samples) == 0:
                    continue
                if last is not None:
                    if last[1] == "chime":
                        gap = s.chime_gap_ms
                    elif last[0] == pi:
                        gap = s.word_gap_ms
                    else:
                        gap = s.phrase_gap_ms
                    parts.append(pcm.silence(self.rate, gap))
                parts.append(pcm.fade(samples, self.rate, s.fade_ms))
                last = (pi, word)
        joined = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        return pcm.to_wav(joined, self.rate)


def find_pack(spec: str) -> Path | None:
    """The pack folder a config names: "default" (the installed pack, if built), "" (none) or a path."""
    if not spec or spec == "none":
        return None
    folder = DEFAULT_PACK_DIR if spec == "default" else Path(spec).expanduser()
    if folder.is_dir():
        return folder
    if spec == "default":
        logger.info("no default voice pack at %s (hall-kiosk voice-pack build); synthesizing calls", folder)
    else:
        logger.warning("voice pack %s does not exist; synthesizing calls", folder)
    return None
