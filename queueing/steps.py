"""Step machines of cases that move forward one recorded step at a time: follow-ups and matters."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .errors import IllegalTransition

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepMachine:
    """Steps in order with their zh_CN names; a case moves only to the step right after its own."""

    name: str
    steps: tuple[str, ...]
    labels_zh: dict[str, str]
    bad_step_code: str
    # The rule as people read it, first in the refusal's message.
    rule_zh: str
    rule_en: str

    def label(self, step: str) -> str:
        """The zh_CN name of a step (the key itself when unknown)."""
        return self.labels_zh.get(step, step)

    def index(self, step: str) -> int:
        """0-based position of a step."""
        return self.steps.index(step)

    def check_next(self, current: str, wanted: str) -> None:
        """Raise IllegalTransition unless `wanted` is the step right after `current`."""
        if (
            wanted not in self.steps
            or current not in self.steps
            or self.index(wanted) != self.index(current) + 1
        ):
            expected = self.steps[self.index(current) + 1] if current in self.steps[:-1] else None
            raise IllegalTransition(
                self.bad_step_code,
                f"{self.rule_zh}：当前为“{self.label(current)}”，下一步应为“{self.label(expected) if expected else '无'}”",
                f"{self.rule_en}: at {current!r}, the next is {expected!r}, not {wanted!r}",
                current=current,
                wanted=wanted,
                expected=expected,
            )

    def reached(self, current: str, step: str) -> bool:
        """Whether a case at `current` has passed through `step`."""
        return self.index(current) >= self.index(step)


# 差评整改: verify, answer the rater, fix, visit again (recording satisfaction), close.
FOLLOWUP = StepMachine(
    name="followup",
    steps=("open", "verified", "answered", "fixed", "revisited", "closed"),
    labels_zh={
        "open": "待核实",
        "verified": "已核实",
        "answered": "已回复",
        "fixed": "已整改",
        "revisited": "已回访",
        "closed": "已办结",
    },
    bad_step_code="followup.bad_step",
    rule_zh="工单步骤须依次进行",
    rule_en="Follow-up steps must follow in order",
)

# 办件: accepted at the window, then the back office's steps to the finished licence.
MATTER = StepMachine(
    name="matter",
    steps=("accepted", "under_review", "decided", "licence_made", "finished"),
    labels_zh={
        "accepted": "已受理",
        "under_review": "审查中",
        "decided": "已决定",
        "licence_made": "已制证",
        "finished": "已办结",
    },
    bad_step_code="matter.bad_step",
    rule_zh="办件环节须依次推进",
    rule_en="Matter steps must follow in order",
)
