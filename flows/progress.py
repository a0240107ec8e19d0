"""How a long flow reports progress: a callback, so flows never draw anything themselves.

``progress(done, total)`` is called as work is acknowledged: ``done`` items so far (in total,
a resumed backfill included), ``total`` when known. The CLI passes one that draws a progress
bar (``newsflow.cli.progress``); a flow run on a worker passes none and logs instead.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int | None], None]
