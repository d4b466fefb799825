"""Worker processes die with the process that started them.

A pool worker whose parent is killed (``kill -9`` leaves no chance to shut the pool down)
would otherwise live on, computing runs nobody collects. Every pool this project starts
passes :func:`die_with_parent` as its initializer: on Linux the kernel sends the worker
SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere, and as a backstop,
a daemon thread exits the worker once its parent pid changes.
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_S = 0.5


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(POLL_S)


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker when process ``parent`` ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="die-with-parent").start()


def pool_kwargs() -> dict:
    """Keyword arguments that make a ProcessPoolExecutor's workers die with this process."""
    return {"initializer": die_with_parent, "initargs": (os.getpid(),)}
