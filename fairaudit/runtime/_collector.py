"""The garbage collector of a process fairaudit owns: paused while it imports its libraries,
then told to leave what they left alone.

Importing pandas, scikit-learn, scipy, skops and fairlearn creates about 150,000 objects
(modules, classes, functions) that live until the process ends, and almost no garbage; yet
every full collection walks them all. In the sample audit's process that was four
collections, 0.19 s (one of 0.08 s while the report was written), and one of 0.06 s inside
the worker's ExponentiatedGradient fit. ``imports_frozen`` pauses the collector for the
imports and then freezes every object so far (``gc.freeze``): later collections skip them.

Only in a process fairaudit owns: the console script's, or a worker it started
(``in_worker_process``). A library caller's process (a notebook, a test runner) is left
alone, since freezing would also keep whatever garbage of the caller's exists then.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["imports_frozen"]


@contextmanager
def imports_frozen(own_process: bool) -> Iterator[None]:
    """Run the block (imports, before any data is read) with the collector paused, then
    freeze every object and resume it; once per process, and only if ``own_process``."""
    if not own_process or gc.get_freeze_count():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
