"""numba compilation on first use.

Importing numba costs about 0.7 s: a process that never computes a signature
(a run refused by the portal lock, ``scrapy list``, ``python -m crawler
export``) should not pay it.  :func:`lazy_njit` compiles the function with
``numba.njit(cache=True)`` (machine code cached on disk beside the module)
the first time it is called.

:func:`numba_module` is numba itself, with one start-up cost avoided: at its
first compilation numba imports ``scipy.linalg`` (about 0.3 s, SciPy being
installed for datasketch) only to learn whether ``np.dot`` and ``np.linalg``
can use BLAS; none of our kernels calls them, so that check is answered "no"
without the import.  Every module compiling code takes numba from here.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


def _no_blas() -> None:
    raise ImportError("the dedup kernels use no BLAS")


def numba_module() -> ModuleType:
    """``numba``, its BLAS check answered before its first compilation (see above)."""
    import numba

    if "numba.np.arraymath" not in sys.modules:  # the check runs when that is imported
        try:
            import numba.np.linalg

            numba.np.linalg.ensure_blas = _no_blas
        except (ImportError, AttributeError):  # another numba: leave it as it is
            pass
    return numba


def lazy_njit(func: F) -> F:
    """``func`` compiled by numba (nopython, cached, no GIL, no bounds checks) on first call."""
    compiled: Callable[..., Any] | None = None

    @functools.wraps(func)
    def call(*args: Any) -> Any:
        nonlocal compiled
        if compiled is None:
            numba = numba_module()
            compiled = numba.njit(cache=True, nogil=True, boundscheck=False)(func)
        return compiled(*args)

    return cast(F, call)
