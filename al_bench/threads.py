"""One thread for the computations whose float results would otherwise depend on the thread count.

A multi-threaded BLAS or torch kernel may split a sum between its threads and add the partial
sums at the end, so the same inputs give results that differ in the last bits between, say,
``threads=1`` and ``threads=2``. Where such a result feeds the run's files (the linear head's
fit and outputs, the whitening, k-means and PCA of the fitted embedders), the code runs under
:func:`single_threaded`: one thread, so one summation order, whatever ``threads`` the job has.
The operations left multi-threaded (the embedders' encoding: tall matrix products split by
rows) gave the same bytes at one and two threads; tests/test_threads.py checks the results.

``torch.set_num_threads`` and BLAS thread limits are process-wide (and torch's is partly per
OS thread), so blocks run one at a time: a block entered from another Python thread (the
labeling app fits in a worker thread) waits until the running one ends, then sets the counts
for itself. Nested blocks in one thread restore the counts when the outermost ends. Code
outside any block is not held up, and may meanwhile run on one thread too (slower, never
different). Do not wait inside a block for another thread that enters one: that deadlocks.
A block always lowers torch; ``blas=True`` lowers the BLAS libraries as well.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["single_threaded"]

_lock = threading.RLock()  # held for the whole block: one block at a time, nesting allowed
_depth = 0  # nesting depth of the running block (only the lock's holder changes it)
_torch_saved = 1  # torch's thread count when the outermost block entered
_blas_limiter: Any = None  # threadpoolctl's limits while a blas=True block runs


@contextmanager
def single_threaded(blas: bool = False) -> Iterator[None]:
    """Run the block with one torch thread and, with ``blas``, one BLAS/LAPACK thread in NumPy,
    SciPy and FAISS and one OpenMP thread in FAISS (through threadpoolctl); the counts come
    back when the outermost block ends."""
    global _depth, _torch_saved, _blas_limiter
    import torch

    with _lock:
        if _depth == 0:
            _torch_saved = torch.get_num_threads()
        _depth += 1
        limiter = None
        if blas and _blas_limiter is None:
            import scipy.linalg  # noqa: F401 - SciPy's own OpenBLAS loads on first use: load it so the limit reaches it
            from threadpoolctl import threadpool_limits

            limiter = _blas_limiter = threadpool_limits(limits=1)  # BLAS and OpenMP runtimes (FAISS's)
        # after the BLAS limit: FAISS's OpenBLAS sets its count through the OpenMP runtime torch uses
        torch.set_num_threads(1)
        try:
            yield
        finally:
            if limiter is not None:
                limiter.restore_original_limits()
                _blas_limiter = None
            _depth -= 1
            torch.set_num_threads(1 if _depth else _torch_saved)  # after the BLAS restore, for the same reason
