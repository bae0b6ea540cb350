# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 6: The fast path, Numba kernels against NumPy and PyTorch
#
# *Study time: about 40 minutes. Prerequisites: lessons 2 and 5; what a compiled loop and a cache are;
# no Numba experience needed.*
#
# **What you will learn**
#
# - how a Numba kernel is written in this project: a plain Python function (which runs, slowly, without Numba,
#   for debugging) compiled with `numba.njit(cache=True, parallel=True)`, whose parallel loop writes disjoint
#   outputs;
# - what compiling buys over interpreted loops, and what the real kernels in `accel/` do beyond the simple one:
#   channels-last memory for vectorized loops, a fused backward, per-task partial sums;
# - a live timing table of BSConv-U (Eq. 6-7), BSConv-S (Eq. 12-14) and the DSC (Sec. 4.1) on three backends with
#   the same contract: the NumPy `reference`, the Numba `accel` and PyTorch, all checked to agree;
# - why a pointwise step followed by a depthwise one fuses with a ring of $K$ rows, and what that saves,
#   timed before and after.
#
# Timings are measured on your machine when the lesson runs; every backend gets one thread, so that the numbers
# compare the code and not the thread count.

# %%
import inspect
import time
import timeit

import numba
import numpy as np
import threadpoolctl
import torch
import torch.nn.functional as tF
from numba import prange

import accel
import accel.nhwc
import reference
from blueprint.course.kit import FAST, save
from blueprint.plotting import figure

rng = np.random.default_rng(0)
THREADS = 1
numba.set_num_threads(THREADS)
torch.set_num_threads(THREADS)
blas_threads = threadpoolctl.threadpool_limits(
    THREADS
)  # the BLAS behind NumPy's matrix products

# %% [markdown]
# ## 1. A Numba kernel, the way `accel` writes them
#
# The depthwise step (Eq. 7) convolves each channel with its own $K \times K$ blueprint:
# $y_{b,c,p,q} = \sum_{i,j} x_{b,c,p+i,q+j}\, B_{c,i,j}$ (here stride 1, on an input padded beforehand). Written
# as loops it is the formula itself. `prange` marks the loop Numba may spread over threads: each iteration
# owns one output plane $(b, c)$, so no two threads ever write the same element and no locking is needed.
# Without compilation, `prange` is just `range` and the function runs as ordinary (slow) Python.


# %%
def depthwise_plain(x_pad, w, y):
    """Eq. (7), stride 1: y[b, c, p, q] = sum_{i, j} x_pad[b, c, p+i, q+j] w[c, i, j];
    one (b, c) plane per task."""
    nb, nc, ho, wo = y.shape
    k = w.shape[1]
    for task in prange(nb * nc):
        b, c = task // nc, task % nc
        for p in range(ho):
            for q in range(wo):
                acc = 0.0
                for i in range(k):
                    for j in range(k):
                        acc += x_pad[b, c, p + i, q + j] * w[c, i, j]
                y[b, c, p, q] = acc


depthwise_compiled = numba.njit(cache=True, parallel=True)(depthwise_plain)


def run(kernel, x, w):
    """Pad x (B, C, H, W) for 'same' output; apply ``kernel`` with w (C, 1, K, K)."""
    pad = w.shape[2] // 2
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    y = np.empty_like(x)
    kernel(x_pad, np.ascontiguousarray(w[:, 0]), y)
    return y


def best_of(fn, repeats):
    """The fastest of ``repeats`` calls of ``fn()`` in ms (the least disturbed run)."""
    return 1e3 * min(timeit.repeat(fn, number=1, repeat=repeats))


x = rng.standard_normal((2, 16, 16, 16))  # B,C,H,W
w = rng.standard_normal((16, 1, 3, 3))  # C,1,K,K
expected, _ = reference.conv2d_forward(x, w, padding=1, groups=16)

start = time.perf_counter()
first = run(
    depthwise_compiled, x, w
)  # the first call compiles (or loads the cached machine code)
first_call_ms = 1e3 * (time.perf_counter() - start)
plain_ms = best_of(lambda: run(depthwise_plain, x, w), 1)
compiled_ms = best_of(lambda: run(depthwise_compiled, x, w), 5)
assert np.allclose(run(depthwise_plain, x, w), expected) and np.allclose(
    first, expected
)
assert plain_ms > 10 * compiled_ms, (
    "compiled loops should be far faster than interpreted ones"
)
print(
    f"depthwise 3x3 on {x.shape}: plain Python {plain_ms:.0f} ms, "
    f"compiled {compiled_ms:.3f} ms ({plain_ms / compiled_ms:.0f}x faster); "
    f"first compiled call {first_call_ms:.0f} ms (compiling or loading the cache)"
)

# %% [markdown]
# ## 2. What the kernels in `accel/` add
#
# The loop above reads one value of each 3x3 window at a time; the CPU's vector units stay idle. The depthwise
# kernel of `accel` keeps the input **channels-last**, $(B, H, W, C)$, so that for one output pixel and one tap
# the inner loop is a multiply-add over contiguous channels, which the compiler vectorizes. For BSConv this
# costs nothing: the pointwise step before it is a BLAS matrix product that can write its output in that layout
# directly. Its backward reads $\partial y$ once and produces $\partial x$, $\partial B$ and $\partial\beta$ in one
# pass, each task summing into its own slice of a partial-sum buffer that is added up afterwards (no two
# threads write one element). Here is the first paragraph of the module's own description
# (`help(accel.nhwc)` shows all of it):

# %%
print(inspect.getdoc(accel.nhwc).split("\n\n")[0])

# %% [markdown]
# ## 3. A live timing table: NumPy reference, Numba accel, PyTorch
#
# All three implement the same functions with the same arrays in and out. For each operation we time the
# forward and the forward plus backward (best of several calls after a warm-up call), in float32. PyTorch
# runs the same chain of `conv2d` calls with autograd. First we check that the three agree.

# %%
if FAST:
    B_, M, N, HW, REPEATS = 2, 16, 16, 12, 2
else:
    B_, M, N, HW, REPEATS = 16, 128, 128, 28, 10
M_SUB = M // 4
shapes = {
    "BSConv-U": dict(w_pw=(N, M, 1, 1), w_dw=(N, 1, 3, 3), b=(N,)),
    "BSConv-S": dict(
        w_b=(M_SUB, M, 1, 1), w_a=(N, M_SUB, 1, 1), w_dw=(N, 1, 3, 3), b=(N,)
    ),
    "DSC": dict(w_dw=(M, 1, 3, 3), w_pw=(N, M, 1, 1), b=(N,)),
}
functions = {
    "BSConv-U": "bsconv_u",
    "BSConv-S": "bsconv_s",
    "DSC": "dsc",
}  # the contract's function names


def torch_op(op, x, p):
    """The same chains with PyTorch's conv2d, stride 1, padding 1 on the depthwise."""
    if op == "BSConv-U":
        return tF.conv2d(
            tF.conv2d(x, p["w_pw"]), p["w_dw"], p["b"], padding=1, groups=N
        )
    if op == "BSConv-S":
        return tF.conv2d(
            tF.conv2d(tF.conv2d(x, p["w_b"]), p["w_a"]),
            p["w_dw"],
            p["b"],
            padding=1,
            groups=N,
        )
    return tF.conv2d(tF.conv2d(x, p["w_dw"], padding=1, groups=M), p["w_pw"], p["b"])


def numpy_backend(module, op):
    """(fwd, fwd+bwd) callables for ``reference`` or ``accel`` (same contract)."""
    forward = getattr(module, f"{functions[op]}_forward")
    backward = getattr(module, f"{functions[op]}_backward")

    def fwd(x, p, g):
        return forward(x, *p.values(), padding=1)[0]

    def fwd_bwd(x, p, g):
        y, cache = forward(x, *p.values(), padding=1)
        return y, backward(g, cache)

    return fwd, fwd_bwd


def torch_backend(op):
    """(fwd, fwd+bwd) callables running ``torch_op`` on the same NumPy arrays
    (shared memory, no copies)."""

    def fwd(x, p, g):
        with torch.no_grad():
            return torch_op(
                op, torch.from_numpy(x), {k: torch.from_numpy(v) for k, v in p.items()}
            ).numpy()

    def fwd_bwd(x, p, g):
        xt = torch.from_numpy(x).requires_grad_(True)
        pt = {k: torch.from_numpy(v).requires_grad_(True) for k, v in p.items()}
        y = torch_op(op, xt, pt)
        y.backward(torch.from_numpy(g))
        return y.detach().numpy(), (
            xt.grad.numpy(),
            *(t.grad.numpy() for t in pt.values()),
        )

    return fwd, fwd_bwd


x = rng.standard_normal((B_, M, HW, HW)).astype(np.float32)
results = []
for op, shape in shapes.items():
    params = {
        k: (rng.standard_normal(s) / np.sqrt(np.prod(s[1:]))).astype(np.float32)
        for k, s in shape.items()
    }
    g = rng.standard_normal((B_, N, HW, HW)).astype(np.float32)
    backends = {
        "NumPy reference": numpy_backend(reference, op),
        "Numba accel": numpy_backend(accel, op),
        "PyTorch": torch_backend(op),
    }
    outputs = {
        name: fns[1](x, params, g) for name, fns in backends.items()
    }  # warm-up, and the outputs to compare
    y_ref, grads_ref = outputs["NumPy reference"]
    for name, (y, grads) in outputs.items():
        assert np.allclose(y, y_ref, rtol=1e-4, atol=1e-4), (op, name)
        for got, want in zip(grads, grads_ref):
            assert np.allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max()), (
                op,
                name,
            )
    for name, (fwd, fwd_bwd) in backends.items():
        fwd(x, params, g)
        results.append(
            (
                op,
                name,
                best_of(lambda: fwd(x, params, g), REPEATS),
                best_of(lambda: fwd_bwd(x, params, g), REPEATS),
            )
        )
print(
    f"all three backends agree on every output and gradient (float32), input {x.shape}"
)

# %%
names = ["NumPy reference", "Numba accel", "PyTorch"]
print(
    f"\nmilliseconds, best of {REPEATS}, {THREADS} thread, float32, x {x.shape}, 3x3, "
    f"N={N}, M'={M_SUB}\n"
)
print(
    f"{'op':9s} {'backend':16s} {'forward':>9s} {'fwd+bwd':>9s}"
    f"  {'fwd+bwd vs NumPy':>16s}"
)
for op in shapes:
    numpy_total = next(r[3] for r in results if r[0] == op and r[1] == names[0])
    for _, name, fwd_ms, total_ms in (r for r in results if r[0] == op):
        print(
            f"{op:9s} {name:16s} {fwd_ms:9.2f} {total_ms:9.2f}"
            f"  {numpy_total / total_ms:15.1f}x"
        )

# %%
fig = figure(7.2)
axes = fig.subplots(2, 1, sharex=True)
colors = {
    "NumPy reference": "tab:gray",
    "Numba accel": "tab:green",
    "PyTorch": "tab:orange",
}
ops = list(shapes)
for ax, column, title in [(axes[0], 2, "forward"), (axes[1], 3, "forward + backward")]:
    for k, name in enumerate(names):
        values = [
            next(r[column] for r in results if r[0] == op and r[1] == name)
            for op in ops
        ]
        bars = ax.bar(
            np.arange(len(ops)) + (k - 1) * 0.27,
            values,
            width=0.27,
            color=colors[name],
            label=name,
        )
        ax.bar_label(bars, fmt="%.1f")
    ax.set_xticks(range(len(ops)), labels=ops)
    ax.set_title(title)
    ax.set_ylabel("time per call (ms)")
    ax.margins(y=0.15)  # room for the labels above the bars
axes[1].set_xlabel("operation")
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
fig.suptitle(
    f"One layer on three backends ({THREADS} thread, float32,\n"
    f"input {x.shape}, N={N}, 3x3)"
)
save(
    fig,
    "06_timing.png",
    "Best of several calls, measured when the lesson ran (machine-dependent). "
    "Shorter is faster. All three "
    "backends compute the same outputs and gradients (checked).",
)

# %% [markdown]
# **Reading the table.** The numbers are live, from one thread on whatever machine ran this page (the book
# is built on a shared 2-core CPU, so they are noisy; the best of several calls is the least disturbed one).
# What to look for, and why:
#
# - **The forward** is dominated by the pointwise step, a matrix product ($M / K^2 \approx 14$ times the
#   depthwise step's multiply-adds at $M = 128$). All three backends hand it to an optimized matrix product,
#   so the forwards are close; they differ in the depthwise step, which accel runs channels-last (section 2).
# - **The backward** is where they part. The NumPy reference does the depthwise backward as one strided
#   multiply-add over whole arrays per tap and the pointwise backward as two matrix products; accel fuses
#   the depthwise backward into one pass over $\partial y$. On some runs PyTorch's forward+backward of
#   BSConv-U comes out *slower* than NumPy's although its forward is not (as on the fast mode's tiny
#   inputs, sometimes at full size on a busy machine). We have not profiled it; the likely causes are
#   autograd's fixed cost per call, which weighs most on small inputs, and a CPU backward for a convolution
#   with one channel per group (the depthwise step) that is not tuned for that case on one thread. Treat
#   such a row as a measurement of this machine at this moment, not a law; the next cell says which
#   backend won this time.
# - **The three ops** cost what their multiply-adds say: BSConv-S ($p = 1/4$) does less pointwise work than
#   BSConv-U, and the DSC's depthwise step runs on $M$ channels instead of $N$ (equal here).
#
# The next cell prints, from this run's table, which backend was fastest for each op and whether PyTorch's
# BSConv-U backward was slower than NumPy's, so that the text above can be checked against the numbers.

# %%
for op in shapes:
    row = {name: (fwd_ms, total_ms) for o, name, fwd_ms, total_ms in results if o == op}
    fastest = min(row, key=lambda name: row[name][1])
    print(
        f"{op:9s} fastest forward+backward: {fastest}; "
        f"PyTorch {row['PyTorch'][1]:.2f} ms "
        f"vs NumPy {row['NumPy reference'][1]:.2f} ms"
    )

# %% [markdown]
# ## 4. Fusing the two steps: a ring of $K$ rows
#
# The unfused chain writes the whole pointwise output $V'$ (Eq. 6) to memory and the depthwise step (Eq. 7)
# reads it back: per pixel $8N$ bytes in float32 that a 3x3 depthwise step, at 2.25 FLOP per byte, cannot
# hide. But output row $p$ of the depthwise step needs only the $K$ rows $p - 1, p, p + 1$ of $V'$ (3x3,
# stride 1). A fused kernel therefore keeps a **ring of $K$ rows** of $V'$: for each output row it computes
# only the one row of $V'$ not yet in the ring, overwriting the row no longer needed, then runs the depthwise
# step on the ring. $V'$ never leaves the cache, and each of its rows is still computed exactly once. Here
# is the idea as NumPy loops, channels-last, checked against the reference chain:


# %%
def bsconv_u_ring(x, w_pw, w_dw):
    """Eq. (6)-(7) with V' held in a ring of K rows: x (H, W, M) channels-last,
    stride 1, padding K // 2 -> y (H, W, N). Returns y and the V' rows computed."""
    h, wd, _ = x.shape
    k, pad = w_dw.shape[2], w_dw.shape[2] // 2
    w_mat = w_pw[:, :, 0, 0]  # N,M
    taps = w_dw[:, 0].transpose(1, 2, 0)  # K,K,N
    ring = np.zeros((k, wd + 2 * pad, w_mat.shape[0]))  # K rows of V', zero-padded
    held, computed = [None] * k, 0
    y = np.zeros((h, wd, w_mat.shape[0]))  # H,W,N
    for p in range(h):
        rows = [p + i - pad for i in range(k)]  # the input rows output row p reads
        for r in rows:
            if 0 <= r < h and held[r % k] != r:
                ring[r % k, pad : pad + wd] = x[r] @ w_mat.T  # the new row of V'
                held[r % k], computed = r, computed + 1
        for i, r in enumerate(rows):
            if 0 <= r < h:
                for j in range(k):
                    y[p] += ring[r % k, j : j + wd] * taps[i, j]  # Eq. (7)
    return y, computed


xr = rng.standard_normal((1, 8, 10, 12))  # B,M,H,W
wr_pw, wr_dw = rng.standard_normal((16, 8, 1, 1)), rng.standard_normal((16, 1, 3, 3))
y_chain, _ = reference.bsconv_u_forward(xr, wr_pw, wr_dw, padding=1)
y_ring, computed = bsconv_u_ring(xr[0].transpose(1, 2, 0), wr_pw, wr_dw)
assert np.allclose(y_ring, y_chain[0].transpose(1, 2, 0))
assert computed == xr.shape[2]  # every row of V' computed exactly once
print(f"the ring of 3 rows gives the chain's output; {computed} rows of V', each once")

# %% [markdown]
# `accel` compiles this idea (`accel/tiles.py`): the new row of $V'$ comes from a register-blocked matrix
# product (8 pixels x 32 channels held in vector registers over the loop on $M$), the depthwise step sums
# each output's nine products in registers, and bias, residual and ReLU are applied before the one store.
# `blueprint.inference.InferenceEngine` runs whole fused networks on it. Here it is against the unfused
# accel chain on this machine, one thread, float32, the same numbers in both layouts:

# %%
from accel import fused_nhwc

xf = rng.standard_normal((B_, M, HW, HW)).astype(np.float32)  # B,M,H,W
wf_pw = (rng.standard_normal((N, M, 1, 1)) / np.sqrt(M)).astype(np.float32)
wf_dw = rng.standard_normal((N, 1, 3, 3)).astype(np.float32)
layer = fused_nhwc.pack_bsconv_u(wf_pw, wf_dw, padding=1)
xf_last = np.ascontiguousarray(xf.transpose(0, 2, 3, 1))  # B,H,W,M
y_unfused, _ = accel.bsconv_u_forward(xf, wf_pw, wf_dw, padding=1)
y_fused = fused_nhwc.bsconv_u(xf_last, layer)[..., :N]
assert np.allclose(y_fused, y_unfused.transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
unfused_ms = best_of(
    lambda: accel.bsconv_u_forward(xf, wf_pw, wf_dw, padding=1), REPEATS
)
fused_ms = best_of(lambda: fused_nhwc.bsconv_u(xf_last, layer), REPEATS)
print(
    f"BSConv-U forward {xf.shape}: unfused accel chain {unfused_ms:.2f} ms, "
    f"fused {fused_ms:.2f} ms ({unfused_ms / fused_ms:.1f}x)"
)

# %% [markdown]
# On this project's 2-core machine the fused kernel was 2.5-3x faster at both sizes this lesson uses; how
# much depends on the shape (the smaller
# $M$ and $N$, the larger the share of the memory-bound depthwise step and the more fusion saves) and on
# the machine, so read the line above as this run's measurement. The benchmarks that compare whole
# networks with PyTorch and onnxruntime are `blueprint bench latency` (its `accel` runtime is the engine)
# and the book's Performance page.

# %% [markdown]
# ## What we saw
#
# - A Numba kernel is the loop version of the formula, compiled; the same function runs uncompiled for
#   debugging. Compiling makes the loops orders of magnitude faster than interpreted Python.
# - The NumPy reference is written for reading (im2col and matrix products), accel for speed (channels-last,
#   fused passes); PyTorch is the yardstick.
# - A pointwise step followed by a depthwise one fuses with a ring of $K$ rows: the intermediate $V'$ stays
#   in the cache, each of its rows still computed once. For the training in lesson 7, `blueprint.use_backend("accel")`
#   runs the BSConv layers on the accel kernels, without changing what they compute.
#
# ## Exercises
#
# Write each answer in the cell below its question and run the cell: `check` says whether it is right,
# and if not, why. The solutions are folded away under each question.
#
# **6.1** Write `depthwise_loops(x, w)`: the depthwise convolution of `x` (B, C, H, W) with `w` (C, 1, K, K),
# stride 1 and no padding, as plain loops over the output (the formula of section 1).
#
# <details><summary>Solution 6.1</summary>
#
# ```python
# def depthwise_loops(x, w):
#     nb, nc, h, wd = x.shape
#     k = w.shape[2]
#     y = np.zeros((nb, nc, h - k + 1, wd - k + 1))
#     for b, c, p, q in np.ndindex(*y.shape):
#         y[b, c, p, q] = np.sum(x[b, c, p : p + k, q : q + k] * w[c, 0])
#     return y
# ```
#
# </details>

# %%
from blueprint.course.exercises import check


def depthwise_loops(x, w): ...  # your answer


check("6.1", depthwise_loops)

# %% [markdown]
# **6.2** A 3x3 depthwise step in float32 reads each input value once (the other taps come from cache) and
# writes each output once. How many floating-point operations `flop_per_byte` does it do per byte moved?
#
# <details><summary>Solution 6.2</summary>
#
# ```python
# flop_per_byte = 2 * 9 / (4 + 4)  # 9 multiply-adds per output, 4 bytes in, 4 bytes out
# ```
#
# </details>

# %%
flop_per_byte = None  # your answer
check("6.2", flop_per_byte)

# %% [markdown]
# **6.3** In BSConv-U's forward at $M = N = 128$, $K = 3$, stride 1, how many times the depthwise step's
# multiply-adds does the pointwise step do (`pointwise_share`)?
#
# <details><summary>Solution 6.3</summary>
#
# ```python
# pointwise_share = 128 / 3**2  # N M against N K^2 per pixel
# ```
#
# </details>

# %%
pointwise_share = None  # your answer
check("6.3", pointwise_share)
