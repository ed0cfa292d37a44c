"""Thread pools of numpy's BLAS and torch: capped before those libraries load (no imports here)."""

from __future__ import annotations

import os


def limit_blas_threads(threads: int) -> None:
    """Cap the OpenMP/BLAS thread pools numpy and torch start with (0: library defaults).

    Environment variables only take effect before those libraries load, so the CLI calls this
    first thing; a value the user already exported wins.
    """
    if threads > 0:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, str(threads))
