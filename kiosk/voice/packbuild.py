"""`hall-kiosk voice-pack build DIR`: synthesize a default voice pack (one trimmed WAV per word)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from kiosk.voice import pcm
from kiosk.voice.chime import chime_wav
from kiosk.voice.pack import DEFAULT_PACK_DIR, PACK_FILE, PackSettings
from kiosk.voice.tts import EspeakSynthesizer
from kiosk.voice.words import clip_vocabulary

logger = logging.getLogger(__name__)


def build_pack(folder: Path, synth: EspeakSynthesizer, *, force: bool = False) -> list[str]:
    """Write every missing clip (all with force) and pack.json; return the words written."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = PackSettings.load(folder)
    written: list[str] = []
    for word in clip_vocabulary():
        path = folder / settings.files.get(word, f"{word}.wav")
        if path.exists() and not force:
            continue
        if word == "chime":
            samples, rate = pcm.read_wav(chime_wav())
        else:
            samples, rate = pcm.read_wav(synth.synthesize(word))
            samples = pcm.trim(samples, rate)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pcm.to_wav(pcm.resample(samples, rate, settings.rate), settings.rate))
        tmp.replace(path)  # a pack half-written by an interrupted install is never read as complete
        written.append(word)
    meta = folder / PACK_FILE
    if force or not meta.exists():
        body = {
            "name": f"espeak-ng {synth.voice}",
            "rate": settings.rate,
            "word_gap_ms": settings.word_gap_ms,
            "phrase_gap_ms": settings.phrase_gap_ms,
            "chime_gap_ms": settings.chime_gap_ms,
            "fade_ms": settings.fade_ms,
        }
        meta.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    """Entry point of `hall-kiosk voice-pack ...`."""
    p = argparse.ArgumentParser(
        prog="hall-kiosk voice-pack", description="语音包：由离线语音合成生成默认语音包"
    )
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser(
        "build", help="synthesize every missing clip into DIR (default: the kiosk's default pack)"
    )
    b.add_argument("dir", nargs="?", default=str(DEFAULT_PACK_DIR))
    b.add_argument("--force", action="store_true", help="re-synthesize clips that already exist")
    b.add_argument("--voice", help="espeak-ng voice (default: the kiosk's)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    synth = EspeakSynthesizer(args.voice) if args.voice else EspeakSynthesizer()
    if not synth.available:
        print(
            "错误：未安装 espeak-ng\nError: espeak-ng is not installed (apt install espeak-ng)",
            file=sys.stderr,
        )
        return 2
    folder = Path(args.dir)
    written = build_pack(folder, synth, force=args.force)
    print(f"voice pack {folder}: {len(written)} clips written, {len(clip_vocabulary()) - len(written)} kept")
    return 0
