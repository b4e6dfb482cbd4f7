"""What is said for a call or a recall: the words fed to a synthesizer and the clips of a voice pack."""

from __future__ import annotations

import logging

# The queueing core owns the wording (the hall server puts the same words in its call events).
from queueing.announce import (
    call_phrases,
    call_text,
    call_words,
    clip_vocabulary,
    recall_text,
    recall_words,
)

logger = logging.getLogger(__name__)

__all__ = ["call_phrases", "call_text", "call_words", "clip_vocabulary", "recall_text", "recall_words"]
