"""Python's cyclic garbage collector held off while a Graph answer is decoded and mapped.

A delta page of 1,000 messages decodes to about 9,000 dicts and lists, and its mapped values to 1,000 more. Built
with the collector on, they cross several young collections while they are built (a collection every 700 new
containers), are promoted to the oldest generation, and every ~40,000 promoted containers make Python collect the
whole heap: an Odoo worker's 150,000 objects and more, 80-120 ms each time, with the GIL held, so the thread that
stores the previous page stops too. Nothing being built is garbage yet, so those collections find nothing. Held
off while the page is built (and its raw items dropped once mapped), the page's containers meet one young
collection at most, when they are dropped, and the sync of 10,000 messages runs without a full collection at all
(``make bench``, README "Performance"). The same advice: msgpack-python's README ("disable GC while unpacking large
messages"), jedi's pickle loading (github.com/davidhalter/jedi/pull/323).

The collector is process-wide: pauses of several threads nest (a counter), the collector runs again when the last
one ends, and only if it was on when the first began (another part of the process may have turned it off). A
pause covers CPU work on data in memory, never a network wait.
"""
import contextlib
import gc
import threading

_lock = threading.Lock()
_paused = 0         # pauses in progress, all threads
_resume = False     # the collector was on when the first of them began


@contextlib.contextmanager
def paused():
    """Hold off the cyclic collector for the duration of the block (reference counting still frees memory)."""
    global _paused, _resume  # noqa: PLW0603 - one process-wide collector, one count of its pauses
    with _lock:
        if not _paused:
            _resume = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if not _paused and _resume:
                gc.enable()
