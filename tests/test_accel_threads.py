"""Importing is free, and the accel backend's thread set-up (``blueprint.accel_threads``) happens at its first use.

Each case runs in a fresh interpreter, since what it checks (the environment, the loaded modules, Numba's
threading layer) is per process."""

import json
import os
import subprocess
import sys

import pytest

STATE = """
def state():
    import os, sys
    layer = None
    if "numba" in sys.modules:
        import numba
        from numba.np.ufunc import parallel
        layer = [numba.config.THREADING_LAYER, parallel._is_initialized]
    return {"environ": dict(os.environ), "numba": "numba" in sys.modules, "layer": layer}
"""


def run(script, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    env.update(env_changes)
    done = subprocess.run([sys.executable, "-c", STATE + script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_blueprint_leaves_the_environment_alone_and_loads_no_numba():
    out = run("import json; before = state()\nimport blueprint\nprint(json.dumps([before, state()]))")
    before, after = out
    assert after["environ"] == before["environ"]
    assert not after["numba"]


def test_import_accel_leaves_the_environment_and_numbas_threading_layer_alone():
    out = run("import json, numba; before = state()\nimport accel, accel.jit\nprint(json.dumps([before, state()]))")
    before, after = out
    assert after["environ"] == before["environ"]
    assert after["layer"] == before["layer"] and after["layer"][1] is False  # no choice made, nothing started


BACKEND_RUN = """
import json, torch, blueprint
before = state()
layer = blueprint.BSConvU(3, 4, 3, padding=1)
x = torch.randn(2, 3, 16, 16, requires_grad=True)
with blueprint.use_backend("accel"):
    layer(x).sum().backward()
import numba
print(json.dumps([before, state(), numba.threading_layer(), numba.get_num_threads()]))
"""


def test_numba_is_loaded_and_its_openmp_layer_chosen_when_the_accel_backend_first_runs():
    before, after, layer, threads = run(BACKEND_RUN)
    assert not before["numba"] and after["numba"]
    assert layer == "omp"
    assert after["environ"] == before["environ"]


def test_the_users_threading_layer_wins():
    _, _, layer, _ = run(BACKEND_RUN, NUMBA_THREADING_LAYER="workqueue")
    assert layer == "workqueue"


def test_the_openmp_kernels_run_on_pytorchs_libgomp():
    """Numba's OpenMP pool binds to the libgomp PyTorch loaded: one thread team for both (module docstring)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the dynamic-linker check reads /proc and LD_DEBUG (Linux)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    env["LD_DEBUG"] = "bindings"
    script = STATE + BACKEND_RUN
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    bindings = [line for line in done.stderr.splitlines() if "omppool" in line and "`GOMP_parallel'" in line]
    assert bindings and all("/torch/lib/" in line for line in bindings), bindings


def test_the_accel_backend_follows_torchs_thread_count_and_restores_numbas():
    script = """
import json, torch, blueprint
from blueprint import accel_threads
import numba
accel_threads.accel()
numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
torch.set_num_threads(1)
with accel_threads.scope():
    inside = numba.get_num_threads()
print(json.dumps([inside, numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS]))
"""
    assert run(script) == [1, True]


def test_starting_the_accel_backend_keeps_torchs_thread_count():
    """Starting Numba's OpenMP layer may reset the OpenMP thread count that PyTorch reads; the set-up restores it."""
    script = (
        "torch.set_num_threads(1)\n"
        + BACKEND_RUN.replace("import json, torch, blueprint\n", "")
        + ("assert torch.get_num_threads() == 1, torch.get_num_threads()\n")
    )
    run("import json, torch, blueprint\n" + script)
