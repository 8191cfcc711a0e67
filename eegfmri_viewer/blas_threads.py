"""Run a numpy block on one BLAS thread.

Many small linear-algebra calls (tiny least-squares fits, the eigen-decomposition
of a few hundred nodes) take milliseconds on one thread; BLAS threads only add
contention there (several times slower on a busy 2-core machine).
"""

from __future__ import annotations

import contextlib


def one_blas_thread():
    """A context manager limiting BLAS to one thread (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
