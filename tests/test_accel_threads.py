"""accel's choice of thread pool (``accel.jit``): each case runs in a fresh interpreter, since the choice
is made once per process, and checks the pool taken and that the results still equal the reference."""
import json
import os
import subprocess
import sys

import pytest

CHECK = """
import sys
{first_import}
import numba
import numpy as np
import accel
import accel.jit
import reference

rng = np.random.default_rng(0)
for size in (16, 7):  # the plane kernels, the channels-last kernels
    x = rng.standard_normal((2, 3, size, size))
    w_pw, w_dw = rng.standard_normal((4, 3, 1, 1)), rng.standard_normal((4, 1, 3, 3))
    y, cache = accel.bsconv_u_forward(x, w_pw, w_dw, None, 1, 1)
    y_ref, cache_ref = reference.bsconv_u_forward(x, w_pw, w_dw, None, 1, 1)
    dy = rng.standard_normal(y.shape)
    for got, want in zip((y, *accel.bsconv_u_backward(dy, cache)[:3]), (y_ref, *reference.bsconv_u_backward(dy, cache_ref)[:3])):
        assert np.allclose(got, want, rtol=0, atol=1e-10 * max(1.0, np.abs(want).max())), "accel differs from reference"
print(accel.jit.BLAS_THREADS_SPIN, numba.threading_layer())
"""


def run_check(first_import, **env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "NUMBA_THREADING_LAYER")}
    env.update(env_changes)
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(first_import=first_import)], env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    spin, layer = done.stdout.split()
    return spin == "True", layer


def test_accel_imported_first_quiets_openblas_and_takes_the_openmp_pool():
    spin, layer = run_check("import accel")
    assert not spin
    assert layer in ("omp", "tbb")


def test_openblas_loaded_first_is_quieted_and_accel_takes_the_openmp_pool():
    """``import torch`` (which imports NumPy) before accel: OpenBLAS started with spinning threads; accel makes it
    restart them as sleeping ones, keeps its thread count, and takes the OpenMP pool."""
    spin, layer = run_check("import torch")
    assert not spin
    assert layer in ("omp", "tbb")


def test_quieting_openblas_keeps_the_thread_count_set_before():
    script = (
        "import json, numpy, threadpoolctl\n"
        "threadpoolctl.threadpool_limits(1)\n"
        "import accel\n"
        "numpy.ones((64, 64)) @ numpy.ones((64, 64))\n"
        "print(json.dumps([i['num_threads'] for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip())
    assert counts and set(counts) == {1}


def test_spinning_openblas_asked_for_by_the_environment_gets_the_workqueue_pool():
    """OPENBLAS_THREAD_TIMEOUT set by the user to a long spin is respected: accel then avoids the OpenMP pool."""
    spin, layer = run_check("import numpy", OPENBLAS_THREAD_TIMEOUT="20")
    if not spin:
        pytest.skip("NumPy's BLAS here is not an OpenBLAS")
    assert layer == "workqueue"


def test_numba_threading_layer_in_the_environment_wins():
    assert run_check("import accel", NUMBA_THREADING_LAYER="workqueue")[1] == "workqueue"
