"""Masking for screens: the queueing core's rules when present, the same rules otherwise."""

from __future__ import annotations


def mask_id(value: str) -> str:
    """5101**********1234; an already masked value is returned as it is."""
    if "*" in value:
        return value
    try:
        from queueing.idnumber import mask_id_number
    except ImportError:
        return value[:4] + "*" * max(0, len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)
    return mask_id_number(value)


def mask_name(value: str) -> str:
    """张* / 欧阳**; an already masked value is returned as it is."""
    if "*" in value:
        return value
    try:
        from queueing.idnumber import mask_name as core_mask_name
    except ImportError:
        return value[:1] + "*" * max(0, len(value) - 1)
    return core_mask_name(value)
