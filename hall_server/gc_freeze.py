"""A serving process's interpreter: the garbage collector off its start-up heap, the GIL handed over sooner."""

from __future__ import annotations

import gc
import logging
import sys

from hall_server.const import GIL_SWITCH_INTERVAL_S

logger = logging.getLogger(__name__)

# Young-generation threshold while serving. A request allocates a few thousand short-lived
# containers; at Python's default (700) the collector runs several times per request.
GEN0_THRESHOLD = 20_000


def settle_heap(*, postgres: bool = False) -> None:
    """Move everything alive now out of the collector's sight, without collecting first.

    After start-up the process holds hundreds of thousands of objects (SQLAlchemy metadata,
    pydantic models, FastAPI routes, the catalogue) that live as long as it does. A full
    collection walks all of them, a pause of tens of milliseconds every few hundred requests,
    which lands straight in the p99. Frozen, they are never scanned; objects created while
    serving are collected as usual. Only for a server process: a test run that builds many
    apps in one interpreter should not freeze the garbage of the ones before.

    No collection before the freeze: with the collector off through start-up (cli.main), the
    one collection found about 2,700 unreachable objects among 210,000 (no measurable RSS) and
    cost 0.1 s of CPU, a tenth of the start; those few stay frozen instead.
    """
    gc.freeze()
    gc.enable()  # `serve` starts with the collector off (see cli.cmd_serve)
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
    logger.debug("heap settled: %d objects frozen", gc.get_freeze_count())
    if postgres:
        # A city's serving process (PostgreSQL): its request threads take the GIL back sooner
        # (const.GIL_SWITCH_INTERVAL_S) from a thread applying a station's batch while they hold
        # a hall's rows. A SQLite server's writes run in one lane, with no such waits; it keeps
        # Python's default and its CPU per request.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
