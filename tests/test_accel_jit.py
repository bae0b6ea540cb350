"""SLP vectorization and 512-bit vectors (``accel.jit``, ``vectorize=True``) hold for accel's tile kernels only,
compiled or loaded from Numba's on-disk cache, and the process's Numba setting is what it was before and after.

Each case runs in a fresh interpreter with its own cache folder, since compiled code and Numba's
configuration are per process."""

import json
import os
import subprocess
import sys

SCRIPT = """
import json, re, numpy as np
from llvmlite import binding
from numba.core import codegen, config
adder = codegen.CPUCodeLibrary.add_ir_module
avx512 = bool(binding.get_host_cpu_features().get("avx512f", False))
before = config.SLP_VECTORIZE
import accel
from accel import gemm, tiles
after_import = config.SLP_VECTORIZE
a, b = np.ones((8, 16), np.float32), np.ones((16, 16), np.float32)
product = gemm.matmul(a, b)
after_call = config.SLP_VECTORIZE
restored = codegen.CPUCodeLibrary.add_ir_module is adder
packed, gathers, extracts = set(), 0, 0
hits = sum(tiles.matmul_kernel.stats.cache_hits.values())
if not hits:  # compiled here (Numba cannot show the machine code of what it loaded from the cache)
    asm = "".join(tiles.matmul_kernel.inspect_asm().values())
    packed = set(re.findall(r"vfmadd\\d+ps\\s[^\\n]*%([yz]mm)", asm))
    gathers = asm.count("gather")
    extracts = asm.count("vextractps")

import numba
plain = numba.njit(fastmath={"contract"})(tiles._pointwise_tiles)
w = np.ones((1, 16, 16), np.float32)
plain(a, w, np.zeros(16, np.float32), np.empty((8, 16), np.float32), 8)
plain_packed = set(re.findall(r"vfmadd\\d+ps\\s[^\\n]*%([yz]mm)", "".join(plain.inspect_asm().values())))
print(json.dumps({"before": before, "after_import": after_import, "after_call": after_call, "hits": hits,
                  "packed": sorted(packed), "plain_packed": sorted(plain_packed), "avx512": avx512, "gathers": gathers, "extracts": extracts, "restored": restored, "ok": bool(product[0, 0] == 16)}))
"""


def run(cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("NUMBA_SLP_VECTORIZE", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tiles_compile_vectorized_load_from_the_cache_and_leave_numbas_setting_alone(tmp_path):
    first, second = run(tmp_path), run(tmp_path)
    assert first["ok"] and second["ok"]
    assert first["hits"] == 0 and first["packed"], "a fresh compilation of the tile kernels uses packed vector FMAs"
    assert not first["plain_packed"], "the same tile compiled outside the scope is not vectorized (the control)"
    if first["avx512"]:
        assert "zmm" in first["packed"], "with AVX-512 the tiles are marked for 512-bit vectors and use them"
        assert first["gathers"] == 0, "the pixels of a tile are broadcast from memory, not gathered"
        assert first["extracts"] == 0, "a tile stores each pixel's 16 sums as one vector, not value by value"
    assert second["hits"] > 0, "the second process loads the kernel that the first compiled vectorized from the cache"
    for out in (first, second):
        assert out["before"] == out["after_import"] == out["after_call"] == 0
        assert out["restored"], "Numba's code library compiles as before once the tile kernels are done"
