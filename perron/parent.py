"""Worker processes that leave with their parent.

A worker forked or spawned by perron (import workers, ``perron serve --workers N``) would
outlive a parent killed with ``kill -9``: an import worker waits for ever on a task queue that its
own inherited copy of the pipe keeps open, a web worker goes on serving the port. Each calls
:func:`exit_with_parent` when it starts; a daemon thread then ends it within a second of its
parent's death.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int | None = None, every: float = 1.0) -> None:
    """End this process when ``parent`` (default: the current parent) is gone."""
    parent = os.getppid() if parent is None else parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="perron-parent-watch").start()
