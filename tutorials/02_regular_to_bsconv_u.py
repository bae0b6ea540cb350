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
# # Lesson 2: From a regular convolution to BSConv-U (Eq. 1-7)
#
# *Run time: about 15 s on a shared 2-core CPU, 7 s of it on the processor (measured by `./run.sh docs`, full mode).*
#
# **What you will learn**
#
# - how a blueprint $B^{(n)}$ and a weight matrix $W = (w_{n,m})$ define a full kernel (Eq. 2);
# - the four rewriting steps of Sec. 3.3.1 (Eq. 3, 4, 5, then 6-7), each checked numerically: a regular
#   convolution with that kernel equals a **pointwise** convolution with $W$ followed by a **depthwise**
#   convolution with the blueprints;
# - that the same holds for the PyTorch layer `blueprint.BSConvU`;
# - how many parameters and multiply-adds this saves: a factor of $1/K^2 + 1/M$.

# %%
import numpy as np
import torch
import torch.nn as nn
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

import blueprint
import reference
from lesson_kit import save

rng = np.random.default_rng(0)
B_, M, N, H, W_, K = 2, 6, 4, 9, 9, 3  # batch, input channels, output channels, height, width, kernel size

# %% [markdown]
# ## 1. A kernel built from blueprints (Eq. 2)
#
# BSConv gives each of the $N$ filters one $K \times K$ blueprint $B^{(n)}$ and $M$ weights
# $w_{n,1}, \dots, w_{n,M}$; slice $m$ of filter $n$ is the blueprint scaled by $w_{n,m}$:
#
# $$F^{(n)}_{m,:,:} = w_{n,m} \cdot B^{(n)}. \qquad (2)$$
#
# We store $W$ as a pointwise weight `w_pw` of shape (N, M, 1, 1) and the blueprints as a depthwise weight
# `w_dw` of shape (N, 1, K, K), the layouts PyTorch uses for these two convolutions.
# `reference.bsconv_u_kernel` builds the full (N, M, K, K) kernel; we check it against Eq. (2) written as loops.

# %%
w_pw = rng.standard_normal((N, M, 1, 1))  # W: N,M,1,1
w_dw = rng.standard_normal((N, 1, K, K))  # blueprints B^(n): N,1,K,K
F = reference.bsconv_u_kernel(w_pw, w_dw)  # N,M,K,K
for n in range(N):
    for m in range(M):
        assert np.allclose(F[n, m], w_pw[n, m, 0, 0] * w_dw[n, 0])  # Eq. (2), slice by slice
print("full kernel F:", F.shape, "built from", w_pw.size + w_dw.size, "numbers instead of", F.size)

# %%
fig = Figure(figsize=(11, 3.6), layout="constrained")
axes = fig.subplots(2, M + 1, height_ratios=[1, 1])
bound = np.abs(F[:2]).max()
for row, n in enumerate(range(2)):
    axes[row, 0].imshow(w_dw[n, 0], cmap="RdBu_r", vmin=-np.abs(w_dw[n]).max(), vmax=np.abs(w_dw[n]).max())
    axes[row, 0].set_title(f"blueprint $B^{{({n + 1})}}$", fontsize=9)
    axes[row, 0].set_ylabel(f"filter n={n + 1}")
    for m in range(M):
        axes[row, m + 1].imshow(F[n, m], cmap="RdBu_r", vmin=-bound, vmax=bound)
        axes[row, m + 1].set_title(f"m={m + 1}: $w$={w_pw[n, m, 0, 0]:+.2f}", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Lesson 2: two filters built by Eq. (2), slice m = $w_{n,m}$ times the filter's blueprint", fontsize=12)
save(fig, "02_kernel_from_blueprints.png",
     "Left column: the 3x3 blueprint of each filter (own color scale). Other columns: the filter's M=6 slices on one "
     "shared scale (red positive, blue negative); a negative weight gives an inverted copy.")

# %% [markdown]
# ## 2. Rewriting the convolution, one equation at a time
#
# **Eq. (1) and (3).** A regular convolution of the input $U$ ($M \times Y \times X$) with filter $F^{(n)}$ is a
# sum of $M$ two-dimensional convolutions, one per input channel:
#
# $$V_{n,:,:} = U * F^{(n)} = \sum_{m=1}^{M} U_{m,:,:} * F^{(n)}_{m,:,:}. \qquad (3)$$
#
# **Eq. (4) and (5).** Substituting Eq. (2) and using that $w_{n,m}$ is a scalar and $B^{(n)}$ does not depend
# on $m$, the blueprint moves out of the sum (convolution is linear):
#
# $$V_{n,:,:} = \sum_{m} U_{m,:,:} * \left(w_{n,m} B^{(n)}\right)
#            = \Big(\underbrace{\sum_{m} w_{n,m}\, U_{m,:,:}}_{V'_{n,:,:}}\Big) * B^{(n)}. \qquad (4, 5)$$
#
# **Eq. (6) and (7).** The inner sum is a $1 \times 1$ (pointwise) convolution with the weights
# $\tilde w_n$, and what remains convolves each channel of $V'$ with its own blueprint, a depthwise convolution:
#
# $$V' = U * \tilde w_n, \qquad V_{n,:,:} = V'_{n,:,:} * B^{(n)}. \qquad (6, 7)$$
#
# We compute $V$ in all four ways on a random input (with padding 1, so that the output keeps its size).

# %%
x = rng.standard_normal((B_, M, H, W_))  # U: B,M,H,W
v_eq1, _ = reference.conv2d_forward(x, F, padding=1)  # B,N,H,W: Eq. (1), the regular convolution

v_eq3 = np.zeros_like(v_eq1)  # Eq. (3): M single-channel 2-D convolutions per output channel
for n in range(N):
    for m in range(M):
        one_channel, _ = reference.conv2d_forward(x[:, m : m + 1], F[n : n + 1, m : m + 1], padding=1)  # B,1,H,W
        v_eq3[:, n] += one_channel[:, 0]

v_prime = np.einsum("nm,bmhw->bnhw", w_pw[:, :, 0, 0], x)  # B,N,H,W: the inner sum of Eq. (5)
v_eq5, _ = reference.conv2d_forward(v_prime, w_dw, padding=1, groups=N)  # B,N,H,W: each channel * its blueprint

v_eq67, _ = reference.bsconv_u_forward(x, w_pw, w_dw, padding=1)  # B,N,H,W: pointwise, then depthwise

for name, v in [("Eq. (3)", v_eq3), ("Eq. (5)", v_eq5), ("Eq. (6)-(7)", v_eq67)]:
    gap = np.abs(v - v_eq1).max()
    print(f"{name:12s} max |difference| to the regular convolution: {gap:.1e}")
    assert gap < 1e-12

# %% [markdown]
# The same with PyTorch: `blueprint.BSConvU` is an `nn.Sequential` of a pointwise convolution `pw` (no bias)
# and a depthwise convolution `dw`. Loaded with our $W$ and blueprints, it computes exactly what a regular
# `nn.Conv2d` with the full kernel $F$ computes.

# %%
layer = blueprint.BSConvU(M, N, kernel_size=K, padding=1, bias=False).double()
regular = nn.Conv2d(M, N, kernel_size=K, padding=1, bias=False).double()
with torch.no_grad():
    layer.pw.weight.copy_(torch.from_numpy(w_pw))
    layer.dw.weight.copy_(torch.from_numpy(w_dw))
    regular.weight.copy_(torch.from_numpy(F))
    xt = torch.from_numpy(x)
    assert torch.allclose(layer(xt), regular(xt), atol=1e-12)
    assert torch.allclose(layer(xt), torch.from_numpy(v_eq1), atol=1e-12)
print(layer)

# %% [markdown]
# ## 3. What it saves
#
# Per output pixel, the regular convolution multiplies and adds $N \cdot M \cdot K^2$ times and stores
# $N M K^2$ parameters. BSConv-U spends $N \cdot M$ on the pointwise step and $N \cdot K^2$ on the depthwise
# step, with as many parameters. The ratio is
#
# $$\frac{N M + N K^2}{N M K^2} = \frac{1}{K^2} + \frac{1}{M},$$
#
# close to $1/K^2$ for wide layers. We check the counts with `blueprint.profile`, which counts multiply-adds
# with forward hooks (biases off, so that both layers hold only the weights we count).

# %%
def counts(m, n, k, size=32):
    """(params, multiply-adds) of a regular conv and of BSConv-U, M -> N channels on a size x size input."""
    regular = (n * m * k * k, n * m * k * k * size * size)
    bsconv = (n * m + n * k * k, (n * m + n * k * k) * size * size)
    return regular, bsconv


for m, n in [(32, 64), (128, 128), (512, 512)]:
    (p_reg, f_reg), (p_bs, f_bs) = counts(m, n, K)
    measured_reg = blueprint.profile(nn.Conv2d(m, n, K, padding=1, bias=False), (m, 32, 32))
    measured_bs = blueprint.profile(blueprint.BSConvU(m, n, K, padding=1, bias=False), (m, 32, 32))
    assert (measured_reg.params, measured_reg.flops) == (p_reg, f_reg)
    assert (measured_bs.params, measured_bs.flops) == (p_bs, f_bs)
    assert np.isclose(p_bs / p_reg, 1 / K**2 + 1 / m)
    print(f"M={m:3d} N={n:3d}: regular {p_reg:>9,} params {f_reg / 1e6:8.1f} M mult-adds | "
          f"BSConv-U {p_bs:>7,} params {f_bs / 1e6:6.1f} M mult-adds | ratio {p_bs / p_reg:.3f}")

# %%
fig = Figure(figsize=(7.5, 4.3), layout="constrained")
ax = fig.subplots()
widths = np.array([8, 16, 32, 64, 128, 256, 512, 1024])
for k, color in [(3, "tab:blue"), (5, "tab:orange"), (7, "tab:green")]:
    ax.plot(widths, 1 / k**2 + 1 / widths, "o-", color=color, label=f"K={k}: $1/K^2 + 1/M$")
    ax.axhline(1 / k**2, color=color, linestyle=":", linewidth=1)
ax.set_xscale("log", base=2)
ax.set_xticks(widths, labels=[str(w) for w in widths])
ax.yaxis.set_major_formatter(PercentFormatter(1.0))
ax.set_ylim(0, None)
ax.set_xlabel("input channels M")
ax.set_ylabel("BSConv-U cost / regular conv cost")
ax.set_title("Lesson 2: parameters and multiply-adds of BSConv-U relative to a regular convolution")
ax.legend()
save(fig, "02_cost_ratio.png",
     "The same ratio holds for parameters and for multiply-adds. Dotted lines: the limit 1/K^2 for very wide "
     "layers; a 3x3 BSConv-U with M=128 costs 12% of the regular convolution.")

# %% [markdown]
# ## What we saw
#
# - Eq. (2) turns a kernel of $N M K^2$ numbers into $N K^2 + N M$, and Eq. (3)-(7) show that the
#   convolution with such a kernel never needs to build it: pointwise with $W$, then depthwise with the
#   blueprints. All four forms agree to rounding error.
# - Lesson 3 factorizes $W$ once more (BSConv-S); lesson 4 compares with the depthwise separable convolution,
#   which runs the same two steps in the opposite order.
