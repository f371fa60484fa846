"""A server process settles its heap once start-up is done: what start-up made is frozen out
of the cycle collector's sight and young collections are spaced out; garbage with cycles is
still collected. Run in a process of its own: freezing is process-wide."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc, weakref
from shared.runtime import YOUNG_THRESHOLD, settle_heap

class Node:
    pass

settle_heap()
frozen = gc.get_freeze_count()
assert frozen > 1000, frozen  # the modules, classes and functions start-up made
assert gc.get_threshold()[0] == YOUNG_THRESHOLD
settle_heap()  # once per process: a second call changes nothing
assert gc.get_freeze_count() == frozen

a, b = Node(), Node()
a.other, b.other = b, a  # a cycle: reference counting alone never frees it
gone = weakref.ref(a)
del a, b
gc.collect()
assert gone() is None
print("ok")
"""


def test_settling_the_heap_freezes_start_up_and_still_collects_cycles() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
