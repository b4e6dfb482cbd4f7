"""The IdCard result type every reader returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date

from devices.idcard.idnumber import IdNumberProblem, mask_id_number, mask_name


class CardType(enum.StrEnum):
    """Which kind of card was read."""

    RESIDENT = "resident"
    FOREIGNER = "foreigner"
    HMT = "hmt"
    SOCIAL_SECURITY = "social_security"

    @property
    def label_zh(self) -> str:
        """The card's Chinese name."""
        return _LABELS_ZH[self]


_LABELS_ZH = {
    CardType.RESIDENT: "居民身份证",
    CardType.FOREIGNER: "外国人永久居留身份证",
    CardType.HMT: "港澳台居民居住证",
    CardType.SOCIAL_SECURITY: "社会保障卡",
}


@dataclass(frozen=True)
class IdCard:
    """Everything read from one card. valid_to None means 长期 (no expiry).

    An ID number that fails its check does not raise: `id_problem` says why and `id_valid` is False,
    so the caller decides (the kiosk refuses it, a clerk may still see the card). Readers opened with
    strict=True raise devices.errors.InvalidCardData instead.
    """

    name: str
    sex: str
    sex_code: str
    nation_code: str
    nation: str
    birth_date: date
    address: str
    id_number: str
    authority: str
    valid_from: date | None
    valid_to: date | None
    card_type: CardType
    photo: bytes = b""
    fingerprint: bytes | None = None
    # Foreigner's permanent residence card
    name_en: str = ""
    nationality: str = ""
    card_version: str = ""
    # Hong Kong / Macau / Taiwan residence permit
    travel_permit_number: str = ""
    issue_count: int | None = None
    # Social security card
    social_security_number: str = ""
    card_identifier: str = ""
    birthplace_code: str = ""
    id_problem: IdNumberProblem | None = field(default=None, compare=False)

    @property
    def id_valid(self) -> bool:
        """True when the ID number passed every check."""
        return self.id_problem is None

    @property
    def long_term(self) -> bool:
        """True for a card valid 长期 (no end date)."""
        return self.valid_to is None

    def age_on(self, day: date) -> int:
        """Full years of age on `day`."""
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def expired_on(self, day: date) -> bool:
        """True if the card's validity ended before `day` (a 长期 card never expires)."""
        return self.valid_to is not None and self.valid_to < day

    @property
    def masked_id(self) -> str:
        """The ID number as screens and tickets show it: 5101**********1234."""
        return mask_id_number(self.id_number)

    @property
    def masked_name(self) -> str:
        """The name as screens and tickets show it: 张*."""
        return mask_name(self.name or self.name_en)

    def identity(self) -> dict[str, str]:
        """The identity part the hall server's ticket request takes."""
        return {
            "id_number": self.id_number,
            "name": self.name or self.name_en,
            "card_type": str(self.card_type),
        }

    def __repr__(self) -> str:
        # Personal data never lands in logs through repr().
        return f"IdCard({self.card_type}, {self.masked_name}, {self.masked_id})"
