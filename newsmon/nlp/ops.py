"""Matrix products through numpy for the loaded model.

thinc's ``NumpyOps.gemm`` calls the BLIS that cython-blis ships, and its wheels select BLIS's
generic kernels: about 30 GFLOP/s on a core, against about 90 for numpy's OpenBLAS on the
same core. The products of the tok2vec and NER layers are most of the model's time, so the
pipeline is loaded with ops that use ``numpy.matmul``; everything else stays thinc's. The
transition-based decoders keep calling BLIS from C.
"""

from __future__ import annotations

from typing import Any

import numpy
from thinc.api import NumpyOps
from threadpoolctl import threadpool_limits


class MatmulOps(NumpyOps):
    """NumpyOps whose ``gemm`` is numpy's (OpenBLAS) instead of BLIS's generic kernel."""

    name = "numpy"  # what spaCy and thinc check for; behaves as NumpyOps otherwise

    def gemm(self, x: Any, y: Any, out: Any = None, trans1: bool = False, trans2: bool = False) -> Any:
        x = x.T if trans1 else x
        y = y.T if trans2 else y
        if out is None:
            return numpy.matmul(x, y)
        return numpy.matmul(x, y, out=out)


def use_one_blas_thread() -> None:
    """Keep numpy's BLAS on one thread: on products this small, a second thread spins (it costs
    more CPU than it saves), and worker processes already use every core."""
    threadpool_limits(limits=1, user_api="blas")  # for the rest of the process
