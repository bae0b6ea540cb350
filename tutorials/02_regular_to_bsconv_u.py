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
# *Study time: about 45 minutes. Prerequisites: lesson 1; convolution as a sum over input channels;
# the paper's Sec. 3.2-3.3.1 beside you.*
#
# **What you will learn**
#
# - how a blueprint $B^{(n)}$ and a weight matrix $W = (w_{n,m})$ define a full kernel (Eq. 2);
# - the four rewriting steps of Sec. 3.3.1 (Eq. 3, 4, 5, then 6-7), each checked numerically: a regular
#   convolution with that kernel equals a **pointwise** convolution with $W$ followed by a **depthwise**
#   convolution with the blueprints;
# - that the same holds for the PyTorch layer `blueprint.BSConvU`;
# - what it costs: $1/K^2 + 1/M$ of the regular convolution's parameters, and of its multiply-adds at stride 1
#   only (at stride 2 the pointwise step runs at the input's resolution);
# - why there is no BatchNorm or ReLU between the two steps (Sec. 4.1).

# %%
import numpy as np
import torch
import torch.nn as nn
from matplotlib.ticker import PercentFormatter

import blueprint
import reference
from blueprint.course.kit import one_thread, save
from blueprint.plotting import figure

one_thread()

rng = np.random.default_rng(0)
# batch, input channels, output channels, height, width, kernel size
B_, M, N, H, W_, K = 2, 6, 4, 9, 9, 3

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
        assert np.allclose(
            F[n, m], w_pw[n, m, 0, 0] * w_dw[n, 0]
        )  # Eq. (2), slice by slice
print(
    "full kernel F:",
    F.shape,
    "built from",
    w_pw.size + w_dw.size,
    "numbers instead of",
    F.size,
)

# %%
fig = figure(4.0)
axes = fig.subplots(2, M + 1, height_ratios=[1, 1])
bound = np.abs(F[:2]).max()
for row, n in enumerate(range(2)):
    axes[row, 0].imshow(
        w_dw[n, 0],
        cmap="RdBu_r",
        vmin=-np.abs(w_dw[n]).max(),
        vmax=np.abs(w_dw[n]).max(),
    )
    axes[row, 0].set_title(f"blueprint\n$B^{{({n + 1})}}$")
    axes[row, 0].set_ylabel(f"filter n={n + 1}")
    for m in range(M):
        axes[row, m + 1].imshow(F[n, m], cmap="RdBu_r", vmin=-bound, vmax=bound)
        axes[row, m + 1].set_title(f"m={m + 1}\n$w$={w_pw[n, m, 0, 0]:+.2f}")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Two filters built by Eq. (2): slice m is $w_{n,m}$ times the blueprint")
save(
    fig,
    "02_kernel_from_blueprints.png",
    "Left column: the 3x3 blueprint of each filter (own color scale). Other columns: "
    "the filter's M=6 slices on one "
    "shared scale (red positive, blue negative); a negative weight gives an inverted "
    "copy.",
)

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
# **Eq. (6) and (7).** Arrange the weights $w_{n,1}, \dots, w_{n,M}$ into the $M \times 1 \times 1$ array
# $\tilde w_n$. The inner sum is then a $1 \times 1$ (pointwise) convolution, one output channel per $n$, and
# what remains convolves each channel of $V'$ with its own blueprint, a depthwise convolution:
#
# $$V'_{n,:,:} = U * \tilde w_n, \qquad V_{n,:,:} = V'_{n,:,:} * B^{(n)}. \qquad (6, 7)$$
#
# We compute $V$ in all four ways on a random input (with padding 1, so that the output keeps its size).

# %%
x = rng.standard_normal((B_, M, H, W_))  # U: B,M,H,W
v_eq1, _ = reference.conv2d_forward(
    x, F, padding=1
)  # B,N,H,W: Eq. (1), the regular convolution

v_eq3 = np.zeros_like(
    v_eq1
)  # Eq. (3): M single-channel 2-D convolutions per output channel
for n in range(N):
    for m in range(M):
        one_channel, _ = reference.conv2d_forward(
            x[:, m : m + 1], F[n : n + 1, m : m + 1], padding=1
        )  # B,1,H,W
        v_eq3[:, n] += one_channel[:, 0]

v_prime = np.einsum(
    "nm,bmhw->bnhw", w_pw[:, :, 0, 0], x
)  # B,N,H,W: the inner sum of Eq. (5)
v_eq5, _ = reference.conv2d_forward(
    v_prime, w_dw, padding=1, groups=N
)  # B,N,H,W: each channel * its blueprint

v_eq67, _ = reference.bsconv_u_forward(
    x, w_pw, w_dw, padding=1
)  # B,N,H,W: pointwise, then depthwise

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
# ## 3. What it costs
#
# Per output pixel, the regular convolution multiplies and adds $N \cdot M \cdot K^2$ times and stores
# $N M K^2$ parameters. BSConv-U spends $N \cdot M$ on the pointwise step and $N \cdot K^2$ on the depthwise
# step, with as many parameters. BSConv-U costs the fraction
#
# $$\frac{N M + N K^2}{N M K^2} = \frac{1}{K^2} + \frac{1}{M}$$
#
# of the regular convolution, close to $1/K^2$ for wide layers. We check the counts with `blueprint.profile`,
# which counts multiply-adds with forward hooks (biases off, so that both layers hold only the weights we
# count). All of this is at stride 1; the next cell shows what changes at stride 2.


# %%
def counts(m, n, k, size=32):
    """(params, multiply-adds) of a regular conv and of BSConv-U, M -> N channels on a
    size x size input."""
    regular = (n * m * k * k, n * m * k * k * size * size)
    bsconv = (n * m + n * k * k, (n * m + n * k * k) * size * size)
    return regular, bsconv


for m, n in [(32, 64), (128, 128), (512, 512)]:
    (p_reg, f_reg), (p_bs, f_bs) = counts(m, n, K)
    measured_reg = blueprint.profile(
        nn.Conv2d(m, n, K, padding=1, bias=False), (m, 32, 32)
    )
    measured_bs = blueprint.profile(
        blueprint.BSConvU(m, n, K, padding=1, bias=False), (m, 32, 32)
    )
    assert (measured_reg.params, measured_reg.flops) == (p_reg, f_reg)
    assert (measured_bs.params, measured_bs.flops) == (p_bs, f_bs)
    assert np.isclose(p_bs / p_reg, 1 / K**2 + 1 / m)
    print(
        f"M={m:3d} N={n:3d}: regular {p_reg:>9,} params {f_reg / 1e6:7.1f} M MACs | "
        f"BSConv-U {p_bs:>7,} params {f_bs / 1e6:5.1f} M MACs | {p_bs / p_reg:.3f}"
    )

# %% [markdown]
# **At stride 2 the two ratios part.** A strided BSConv-U (the layer that halves the resolution) runs its
# pointwise step on the full $H \times W$ input and only its depthwise step at the strided
# $\frac{H}{2} \times \frac{W}{2}$ output, while the regular convolution computes only the strided output. Its
# multiply-adds are $N M H W + N K^2 \frac{H W}{4}$ against $N M K^2 \frac{H W}{4}$: the fraction becomes
# $4/K^2 + 1/M$. A DSC runs its depthwise step first, at stride 2, and its pointwise step at the output's
# resolution, so it keeps $1/K^2 + 1/N$. The parameters do not depend on the stride.

# %%
strided = {
    name: blueprint.profile(layer, (128, 32, 32))
    for name, layer in [
        ("regular", nn.Conv2d(128, 128, K, stride=2, padding=1, bias=False)),
        ("BSConv-U", blueprint.BSConvU(128, 128, K, stride=2, padding=1, bias=False)),
        ("DSC", blueprint.DSConv(128, 128, K, stride=2, padding=1, bias=False)),
    ]
}
for name, cost in strided.items():
    print(
        f"stride 2, M=N=128, 32x32 input, {name:8s}: "
        f"{cost.params / strided['regular'].params:6.1%} of "
        f"the parameters, {cost.flops / strided['regular'].flops:6.1%} of the "
        "multiply-adds"
    )
assert np.isclose(
    strided["BSConv-U"].flops / strided["regular"].flops, 4 / K**2 + 1 / 128
)
assert np.isclose(strided["DSC"].flops / strided["regular"].flops, 1 / K**2 + 1 / 128)
assert np.isclose(
    strided["BSConv-U"].params / strided["regular"].params, 1 / K**2 + 1 / 128
)

# %%
fig = figure(4.3)
ax = fig.subplots()
widths = np.array([8, 16, 32, 64, 128, 256, 512, 1024])
for k, color in [(3, "tab:blue"), (5, "tab:orange"), (7, "tab:green")]:
    ax.plot(
        widths, 1 / k**2 + 1 / widths, "o-", color=color, label=f"K={k}: $1/K^2 + 1/M$"
    )
    ax.axhline(1 / k**2, color=color, linestyle=":", linewidth=1)
ax.set_xscale("log", base=2)
ax.set_xticks(widths, labels=[str(w) for w in widths])
ax.yaxis.set_major_formatter(PercentFormatter(1.0))
ax.set_ylim(0, None)
ax.set_xlabel("input channels M")
ax.set_ylabel("BSConv-U cost / regular conv cost")
ax.set_title(
    "BSConv-U's parameters (and stride-1 multiply-adds)\nper regular convolution"
)
ax.legend()
save(
    fig,
    "02_cost_ratio.png",
    "The ratio of parameters, and of multiply-adds at stride 1 (at stride 2 BSConv-U's "
    "multiply-adds are "
    "$4/K^2 + 1/M$, 45% at K=3, M=128). Dotted lines: the limit $1/K^2$ for very wide "
    "layers; a 3x3 BSConv-U "
    "with M=128 has 12% of the regular convolution's parameters.",
)

# %% [markdown]
# ## 4. Why nothing sits between the two steps (Sec. 4.1)
#
# The rewriting above is exact only because the pointwise output $V'$ goes into the depthwise step
# unchanged. A ReLU between them would zero every negative $V'_{n,:,:}$, and with it every slice with a
# negative factor $w_{n,m}$, an "inverted" copy of the blueprint (lesson 1 saw many). The paper therefore puts
# neither an activation nor a normalization after BSConv-U's pointwise step: "it is essential to allow the
# weights $w_{n,m}$ to be negative". (A BatchNorm there is affine per channel at inference: it rescales
# each row of $W$ and adds a constant per channel, which the depthwise step turns into a bias, exact away
# from the zero-padded border. It is not part of the derivation, and the paper's BSConv-U has none.) A ReLU between the steps gives a different function, which no kernel of the form of Eq. (2) computes:

# %%
relu_between, _ = reference.conv2d_forward(
    np.maximum(v_prime, 0), w_dw, padding=1, groups=N
)  # B,N,H,W
gap = np.abs(relu_between - v_eq1).max()
print(f"ReLU between the steps: max |difference| to the regular convolution {gap:.2f}")
assert gap > 0.1, "a ReLU between pointwise and depthwise breaks Eq. (4)-(5)"


# %% [markdown]
# ## What we saw
#
# - Eq. (2) turns a kernel of $N M K^2$ numbers into $N K^2 + N M$, and Eq. (3)-(7) show that the
#   convolution with such a kernel never needs to build it: pointwise with $W$, then depthwise with the
#   blueprints. All four forms agree to rounding error, and only with nothing between the two steps.
# - BSConv-U costs $1/K^2 + 1/M$ of the parameters; of the multiply-adds too at stride 1, but
#   $4/K^2 + 1/M$ at stride 2, where a DSC (lesson 4) stays at $1/K^2 + 1/N$.
# - Lesson 3 factorizes $W$ once more (BSConv-S); lesson 4 compares with the depthwise separable convolution,
#   which runs the same two steps in the opposite order.
#
# ## Exercises
#
# Write each answer in the cell below its question and run the cell: `check` says whether it is right,
# and if not, why. The solutions are folded away under each question.
#
# **2.1** Write `bsconv_u_kernel(w_pw, w_dw)`: the full kernel $F$ (N, M, K, K) of Eq. (2) from `w_pw`
# (N, M, 1, 1) and `w_dw` (N, 1, K, K), in one line of NumPy.
#
# <details><summary>Solution 2.1</summary>
#
# ```python
# def bsconv_u_kernel(w_pw, w_dw):
#     return w_pw * w_dw  # (N,M,1,1) * (N,1,K,K) broadcasts to F[n, m] = w[n, m] B[n]
# ```
#
# </details>

# %%
from blueprint.course.exercises import check


def bsconv_u_kernel(w_pw, w_dw): ...  # your answer


check("2.1", bsconv_u_kernel)

# %% [markdown]
# **2.2** Predict, before running anything, the fraction `stride2_ratio` of a regular 3x3 convolution's
# multiply-adds that a BSConv-U with stride 2 and padding 1 needs, at $M = N = 128$ on a 32x32 input.
#
# <details><summary>Solution 2.2</summary>
#
# ```python
# # pointwise on 32x32, depthwise and the regular convolution on 16x16:
# stride2_ratio = 4 / 3**2 + 1 / 128
# ```
#
# </details>

# %%
stride2_ratio = None  # your answer
check("2.2", stride2_ratio)

# %% [markdown]
# **2.3** Write `bsconv_u_macs(m, n, k, size, stride)`: the multiply-adds of a BSConv-U without bias on a
# `size` x `size` input with padding $\lfloor K/2 \rfloor$, for any stride.
#
# <details><summary>Solution 2.3</summary>
#
# ```python
# def bsconv_u_macs(m, n, k, size, stride):
#     out = (size + 2 * (k // 2) - k) // stride + 1  # the depthwise step's output side
#     return n * m * size * size + n * k * k * out * out
# ```
#
# </details>


# %%
def bsconv_u_macs(m, n, k, size, stride): ...  # your answer


check("2.3", bsconv_u_macs)
