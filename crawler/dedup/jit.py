"""numba compilation on first use.

Importing numba costs about 0.7 s: a process that never computes a signature
(a run refused by the portal lock, ``scrapy list``, ``python -m crawler
export``) should not pay it.  :func:`lazy_njit` compiles the function with
``numba.njit(cache=True)`` (machine code cached on disk beside the module)
the first time it is called.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


def lazy_njit(func: F) -> F:
    """``func`` compiled by numba (nopython, cached, no GIL, no bounds checks) on first call."""
    compiled: Callable[..., Any] | None = None

    @functools.wraps(func)
    def call(*args: Any) -> Any:
        nonlocal compiled
        if compiled is None:
            import numba

            compiled = numba.njit(cache=True, nogil=True, boundscheck=False)(func)
        return compiled(*args)

    return cast(F, call)
