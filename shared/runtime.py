"""Process-wide settings of the Python runtime for a long-lived server process.

`settle_heap()`, once start-up is done: CPython's cycle collector otherwise runs a young
collection every 700 allocations and, now and then, a full one that walks every object the
process holds (modules, classes, compiled templates, caches). Measured under bench/load.py
(`jetdeck up`, 20 s of browsing): about 100 collections over 5 ms, full ones of 200-400 ms,
each a stall of every request in flight; settled, a dozen of 8-35 ms and one full one under
100 ms. What start-up made is moved out of the collector's sight (`gc.freeze`: it is never
garbage), and young collections run every 10,000 allocations (at 50,000 each took 100 ms or
more): a request's short-lived objects are mostly freed by reference counting before one
runs, so far fewer reach the old generation, whose growth is what triggers a full collection.
Reference counting still frees everything without a cycle at once; cycles are still
collected.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("jetdeck.runtime")

YOUNG_THRESHOLD = 10_000
_settled = False


def settle_heap() -> None:
    """Freeze what start-up made and space out collections (once per process)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    log.debug("heap settled: %d objects frozen", gc.get_freeze_count())
