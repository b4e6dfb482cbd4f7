"""Offline Mandarin announcements: words, espeak-ng synthesis, a chime, a Speaker seam, a queue."""
