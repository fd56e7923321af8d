"""One BLAS thread per worker, so a serial matmul is one core and the parallel one N.

numpy's BLAS (OpenBLAS, MKL) otherwise starts a thread per core inside every
matmul: the serial reference would already use the whole machine, and a thread pool
on top would only measure contention. Set before numpy is imported (here, first).
"""

from __future__ import annotations

import importlib.util
import os
import sys

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

if "numpy" in sys.modules:  # pragma: no cover - a plugin imported it before us
    import warnings

    warnings.warn(
        "numpy was imported before examples/conftest.py: BLAS may be multithreaded",
        stacklevel=1,
    )

# celery_project/ measures a Celery project's own tasks through celery.contrib.pytest's
# fixtures; a top-level conftest is where pytest accepts a plugin list.
if importlib.util.find_spec("celery") is not None:
    pytest_plugins = ["celery.contrib.pytest"]
else:  # pragma: no cover - the example needs pytest-parscale[celery]
    collect_ignore = ["celery_project"]
