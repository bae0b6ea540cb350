"""First-call cost of ``accel``: import, then a BSConv-U forward + backward (float32) on a 16 x 16 and an
8 x 8 input (the plane kernels and the channels-last kernels), in a fresh process.

Cold: a new, empty ``NUMBA_CACHE_DIR``, so every kernel the call needs is compiled. Warm: the same
directory again, so the kernels load from the on-disk cache (``cache=True``). The target is import + first
call under 2 s with a warm cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import blueprint

_PROBE = """
import json, time
t0 = time.perf_counter()
import accel
import numpy as np
t1 = time.perf_counter()
for size in (16, 8):
    x = np.ones((2, 8, size, size), np.float32)
    y, cache = accel.bsconv_u_forward(x, np.ones((8, 8, 1, 1), np.float32), np.ones((8, 1, 3, 3), np.float32), padding=1)
    accel.bsconv_u_backward(np.ones_like(y), cache)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "total_s": t2 - t0}))
"""


def _probe(cache_dir: str) -> dict:
    root = str(Path(blueprint.__file__).resolve().parent.parent)  # where blueprint, accel and reference live
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"compile-time probe failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compile_times() -> dict:
    """``{"cold": {...}, "warm": {...}}``, each with import_s, first_call_s and total_s in seconds."""
    with tempfile.TemporaryDirectory(prefix="blueprint-numba-cache-") as cache_dir:
        cold = _probe(cache_dir)
        warm = _probe(cache_dir)
    return {"cold": cold, "warm": warm}
