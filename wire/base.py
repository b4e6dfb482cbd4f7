"""Shared pieces of the wire models: the strict answer base and bounded integers."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict

# Every integer a request carries (paths, queries, bodies) fits a 64-bit database column, so a
# larger one is a 422 at the edge rather than an overflow inside the database.
DB_INT_MIN = -(2**63)
DB_INT_MAX = 2**63 - 1
DbInt = Annotated[int, Interval(ge=DB_INT_MIN, le=DB_INT_MAX)]

ChannelName = Literal["kiosk", "window", "phone"]
GreenName = Literal["elderly", "disabled", "serviceman", "pregnant"]


class WireIn(BaseModel):
    """Base of every request model: its validator is built at its first use, not at import.

    The server's start-up imports every router; building the validators of all its models
    there was a tenth of the start-up CPU (benchmarks/bench_cold_start.py), most of them for
    endpoints a given process may never see. pydantic rebuilds a deferred model under a lock;
    FastAPI's adapters around it may build twice on a first concurrent use, to the same result.
    """

    model_config = ConfigDict(defer_build=True)


class WireOut(BaseModel):
    """Base of every answer model: a field the server sends must be declared (extra="forbid").

    A field added on the server without its declaration here fails the contract test rather
    than slipping past the kiosk unnoticed. Built at first use, like WireIn.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)
