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
# # Lesson 4: A depthwise separable convolution is a reversed BSConv (Sec. 4.1, Fig. 5)
#
# *Study time: about 45 minutes. Prerequisites: lessons 1 and 2; the SVD and the Eckart-Young theorem
# (best rank-1 approximation); the paper's Sec. 4.1 and Fig. 5.*
#
# **What you will learn**
#
# - that a depthwise separable convolution (DSC: depthwise, then pointwise) is also a regular convolution with
#   a structured kernel, $F^{(n)}_{m} = w_{n,m} B'_m$: **one 3-D blueprint $B'$ shared across all filters**
#   (cross-kernel correlations), where BSConv-U has one 2-D blueprint per filter (intra-kernel correlations);
# - how to fit either structure to any kernel: both are rank-1 fits by SVD, of the rows or of the columns of the
#   kernel's $N \times M$ grid of slices (derived below);
# - how well each structure describes the kernels of a CNN trained on digits, and what that says about the
#   order of the two steps.

# %%
import numpy as np
import torch

import reference
from blueprint.course.kit import (
    FAST,
    conv_kernels,
    digits,
    digits_cnn,
    one_thread,
    save,
    train,
)
from blueprint.plotting import figure

one_thread()

rng = np.random.default_rng(0)
torch.manual_seed(0)
EPOCHS = 10 if FAST else 40

# %% [markdown]
# ## 1. Two ways to share a blueprint
#
# Write a kernel as an $N \times M$ grid of $K \times K$ slices $F^{(n)}_m$: row $n$ is filter $n$, column $m$ is
# input channel $m$. BSConv (Eq. 2) says every **row** is one pattern at different scales:
# $F^{(n)}_m = w_{n,m} B^{(n)}$. Sec. 4.1 shows that a DSC says the same of every **column**:
# $F^{(n)}_m = w_{n,m} B'_m$. Indeed, a DSC first convolves input channel $m$ with its own $K \times K$ kernel
# $B'_m$ (depthwise), then mixes the channels with $W$ (pointwise):
#
# $$V_n = \sum_m w_{n,m} \left(U_m * B'_m\right) = \sum_m U_m * \left(w_{n,m} B'_m\right),$$
#
# a regular convolution (Eq. 3) whose slices are $w_{n,m} B'_m$. Both steps are the same as in BSConv-U, in the
# opposite order. We check this with `reference.dsc_forward` and `reference.dsc_kernel`.

# %%
M, N, K = 5, 7, 3
x = rng.standard_normal((2, M, 10, 10))  # B,M,H,W
w_dw = rng.standard_normal((M, 1, K, K))  # B'_m: one K x K blueprint per input channel
w_pw = rng.standard_normal((N, M, 1, 1))  # W
y_dsc, _ = reference.dsc_forward(
    x, w_dw, w_pw, padding=1
)  # depthwise with B', then pointwise with W
F_dsc = reference.dsc_kernel(w_dw, w_pw)  # N,M,K,K
y_full, _ = reference.conv2d_forward(x, F_dsc, padding=1)
assert np.allclose(y_dsc, y_full)
for n in range(N):
    for m in range(M):
        assert np.allclose(
            F_dsc[n, m], w_pw[n, m, 0, 0] * w_dw[m, 0]
        )  # column m repeats B'_m
print("DSC == regular convolution with F[n, m] = w[n, m] * B'[m]")

# %% [markdown]
# ## 2. Fitting each structure to a given kernel, derived
#
# Given any kernel $F$, which BSConv-U kernel is closest in the Frobenius norm? We minimize
# $\sum_{n,m} \lVert F^{(n)}_m - w_{n,m} B^{(n)} \rVert^2$. The sum splits into one independent problem per
# filter $n$. Stack the filter's slices as the rows of an $M \times K^2$ matrix $S_n$; the problem is
# $\min \lVert S_n - w\, b^T \rVert_F^2$ over a vector $w \in \mathbb{R}^M$ and a blueprint $b \in \mathbb{R}^{K^2}$,
# the best rank-1 approximation of $S_n$. For a fixed unit blueprint $b$ the best weights are the projections
# $w_m = \langle F^{(n)}_m, b \rangle$ (least squares), which leaves the error
# $\lVert S_n \rVert^2 - b^T S_n^T S_n b$; it is smallest for the top eigenvector of $S_n^T S_n$, the first right
# singular vector $v_1$ of $S_n = U \Sigma V^T$. So $B^{(n)} = v_1$, $w_{n,:} = \sigma_1 u_1$ and, by Eckart-Young,
# the relative error is $\sqrt{\sum_{i \ge 2} \sigma_i^2 / \sum_i \sigma_i^2}$.
# This is `reference.blueprint_factorize`.
#
# The DSC fit $\min \sum_{n,m} \lVert F^{(n)}_m - w_{n,m} B'_m \rVert^2$ splits the other way, into one problem
# per input channel $m$: stack the $N$ slices of column $m$ as the rows of an $N \times K^2$ matrix $T_m$; the
# blueprint $B'_m$ is the top right singular vector of $T_m$ and the weights $w_{:,m} = \sigma_1 u_1$ of that SVD.
# **The same computation on the transposed grid**: that is Fig. 5 in one line of code.


# %%
def rank1_rows(kernel):
    """Best F[n, m] ~= w[n, m] * B[n] (one blueprint per filter): blueprints (N, K, K),
    weights (N, M), rel. error."""
    n, m, kh, kw = kernel.shape
    u, s, vt = np.linalg.svd(
        kernel.reshape(n, m, kh * kw), full_matrices=False
    )  # per filter: S_n = U S V^T
    blueprints = vt[:, 0].reshape(n, kh, kw)  # N,K,K
    weights = u[:, :, 0] * s[:, :1]  # N,M
    fit = np.einsum("nm,nij->nmij", weights, blueprints)  # N,M,K,K
    return blueprints, weights, np.linalg.norm(kernel - fit) / np.linalg.norm(kernel)


def intra_kernel_fit(kernel):
    """BSConv-U (Eq. 2): F[n, m] ~= w[n, m] B[n]. Returns the fitted kernel and its
    relative error."""
    blueprints, weights, err = rank1_rows(kernel)
    return reference.bsconv_u_kernel(
        weights[:, :, None, None], blueprints[:, None]
    ), err


def cross_kernel_fit(kernel):
    """DSC (Sec. 4.1): F[n, m] ~= w[n, m] B'[m], the row fit of the transposed grid (M,
    N, K, K)."""
    blueprints, weights, err = rank1_rows(kernel.transpose(1, 0, 2, 3))  # M,K,K and M,N
    return reference.dsc_kernel(blueprints[:, None], weights.T[:, :, None, None]), err


# A kernel with exact BSConv structure is fitted exactly by the intra-kernel fit,
# and the other way round.
F_bs = reference.bsconv_u_kernel(
    rng.standard_normal((N, M, 1, 1)), rng.standard_normal((N, 1, K, K))
)
assert intra_kernel_fit(F_bs)[1] < 1e-12 and cross_kernel_fit(F_bs)[1] > 0.1
assert cross_kernel_fit(F_dsc)[1] < 1e-12 and intra_kernel_fit(F_dsc)[1] > 0.1
# Our intra-kernel fit is reference.blueprint_factorize.
w_pw_fit, w_dw_fit, rel_err = reference.blueprint_factorize(F_dsc)
assert np.allclose(
    reference.bsconv_u_kernel(w_pw_fit, w_dw_fit), intra_kernel_fit(F_dsc)[0]
)
print("each fit is exact on its own structure and not on the other")

# %% [markdown]
# ## 3. Which structure do trained kernels have?
#
# We train the digits CNN of lesson 1 and fit both structures to each of its convolutions with $M \ge 2$,
# before and after training. The two fits also cost different numbers of parameters: $N K^2 + N M$ for BSConv-U,
# $M K^2 + N M$ for the DSC.

# %%
data = digits()
model = digits_cnn()
initial = conv_kernels(model)
accuracy = train(model, data, epochs=EPOCHS)[-1]
trained = conv_kernels(model)
print(f"test accuracy {accuracy:.3f} after {EPOCHS} epochs\n")
rows = []
print(
    f"{'layer':15s} {'N x M':^9s} | {'BSConv-U fit':>13s} {'params':>6s} | "
    f"{'DSC fit':>8s} {'params':>6s} | at init: BSConv-U, DSC"
)
for name, kernel in trained.items():
    n, m, k, _ = kernel.shape
    intra, cross = intra_kernel_fit(kernel)[1], cross_kernel_fit(kernel)[1]
    intra0, cross0 = (
        intra_kernel_fit(initial[name])[1],
        cross_kernel_fit(initial[name])[1],
    )
    rows.append((name, intra, cross, intra0, cross0))
    print(
        f"{name:15s} {n:>3d} x {m:<3d} | {100 * intra:12.1f}% {n * k * k + n * m:>6d} "
        f"| {100 * cross:7.1f}% "
        f"{m * k * k + n * m:>6d} | {100 * intra0:.1f}%, {100 * cross0:.1f}%"
    )
    assert intra < intra0 and cross < cross0, (
        "training should make both structures fit better than at init"
    )
    assert (n * k * k + n * m) - (m * k * k + n * m) == (
        n - m
    ) * k * k  # the budgets differ by (N - M) K^2

# %% [markdown]
# Read the table with its parameter columns: the two fits do not have the same budget. Both keep the
# $N M$ weights; BSConv-U adds $N K^2$ blueprint entries, the DSC $M K^2$. Where $N > M$ (the first layer
# of each stage doubles or keeps the width) the BSConv-U fit has more numbers to fit with, e.g. 2,624
# against 2,336 for a $64 \times 32$ layer, so part of its lower error is its larger budget; where
# $N = M$ the budgets are equal and the comparison is fair.
#
# The relative errors are large for both: a single blueprint per row or per column is a strong constraint,
# and a kernel of a network trained without it is far from exactly structured. Two things stand out. At
# initialization, when the weights are independent random numbers, both fits are equally poor: neither
# structure is there. Training lowers both errors; in our run the intra-kernel (BSConv) fit is the better one in
# the 8x8 and the first 4x4 layer, while in the deepest layer the two are about equal (the DSC fit slightly
# ahead). A tiny network trained for seconds is weak evidence either way; the paper relies on [7], which shows
# that intra-kernel correlations dominate, to conclude that the better structure to build into a layer is one
# blueprint per filter, pointwise first.
#
# The figure shows the structures side by side on a block of 8 filters x 8 input channels of the deepest layer
# (the 8 filters with the largest PC1 share, lesson 1, and the 8 input channels with the largest weights).

# %%
layer = "features.4.conv"
kernel = trained[layer]
filters = np.argsort(reference.pc1_explained_variance(kernel))[::-1][:8]
channels = np.argsort(np.sqrt(np.sum(kernel**2, axis=(0, 2, 3))))[::-1][:8]


def tiles(grid):
    """(8, 8, K, K) slices -> one image with a blank line between the tiles."""
    g, _, k, _ = grid.shape
    image = np.full((g * (k + 1) - 1, g * (k + 1) - 1), np.nan)
    for i in range(g):
        for j in range(g):
            image[i * (k + 1) : i * (k + 1) + k, j * (k + 1) : j * (k + 1) + k] = grid[
                i, j
            ]
    return image


block = np.ix_(filters, channels)
panels = [
    ("trained kernel\n$F^{(n)}_m$\n", kernel[block]),
    (
        "BSConv-U fit: one\nblueprint per row\n(layer error "
        f"{100 * intra_kernel_fit(kernel)[1]:.0f}%)",
        intra_kernel_fit(kernel)[0][block],
    ),
    (
        "DSC fit: one\nblueprint per column\n(layer error "
        f"{100 * cross_kernel_fit(kernel)[1]:.0f}%)",
        cross_kernel_fit(kernel)[0][block],
    ),
]
fig = figure(3.9)
axes = fig.subplots(1, 3)
bound = np.abs(kernel[block]).max()
for ax, (title, grid) in zip(axes, panels):
    image = ax.imshow(tiles(grid), cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.set_title(title, fontsize=10)
    ax.set_xticks(
        np.arange(8) * (K + 1) + 1, labels=[str(c + 1) for c in channels], rotation=90
    )
    ax.set_yticks(np.arange(8) * (K + 1) + 1, labels=[str(f + 1) for f in filters])
    ax.set_xlabel("input channel m")
    ax.set_ylabel("filter n")
fig.colorbar(image, ax=axes, shrink=0.75, label="weight value")
fig.suptitle(
    f"Intra- (BSConv-U) vs cross-kernel (DSC) blueprints, {layer} (cf. Fig. 5)"
)
save(
    fig,
    "04_intra_vs_cross_fit.png",
    "An 8x8 block of 3x3 slices. BSConv-U repeats one pattern along each row (a "
    "filter), the DSC along each "
    "column (an input channel). Red positive, blue negative; errors are over the whole "
    "layer.",
)

# %%
fig = figure(4.6)
ax = fig.subplots()
positions = np.arange(len(rows))
for offset, column, label, style in [
    (-0.3, 3, "BSConv-U fit, at init", dict(color="tab:blue", alpha=0.35)),
    (-0.1, 1, f"BSConv-U fit, trained {EPOCHS} epochs", dict(color="tab:blue")),
    (0.1, 4, "DSC fit, at init", dict(color="tab:orange", alpha=0.35)),
    (0.3, 2, f"DSC fit, trained {EPOCHS} epochs", dict(color="tab:orange")),
]:
    ax.bar(
        positions + offset,
        [100 * r[column] for r in rows],
        width=0.2,
        label=label,
        **style,
    )
ax.set_xticks(
    positions,
    labels=[f"{r[0]}\n{trained[r[0]].shape[0]}x{trained[r[0]].shape[1]}" for r in rows],
)
ax.set_xlabel("convolution layer (N x M)")
ax.set_ylabel("relative error of the rank-1 fit (%)")
ax.set_ylim(0, 118)
ax.set_yticks(range(0, 101, 20))
ax.legend(loc="upper center", ncols=2)
ax.set_title("How far each trained kernel is from each structure")
save(
    fig,
    "04_fit_errors.png",
    r"Relative error $\lVert F - F_{\text{fit}} \rVert_F / \lVert F \rVert_F$ of the "
    r"best BSConv-U (intra-kernel) and DSC (cross-kernel) kernel. "
    "Lower is better; training lowers both.",
)

# %% [markdown]
# ## What we saw
#
# - A DSC is a regular convolution whose kernel repeats one 3-D blueprint across the filters, a BSConv-U one
#   that repeats a 2-D blueprint within each filter; the two differ only in the order of depthwise and
#   pointwise steps (Sec. 4.1).
# - Fitting either structure is the same rank-1 SVD on the rows or on the columns of the slice grid.
# - The fits have different budgets ($N K^2$ against $M K^2$ blueprint entries), equal only where $N = M$;
#   on this small network neither structure fits much better, so the data here cannot decide between them.
# - This is why the BSConv-U version of MobileNetV1 swaps the order of each DSC's steps (Sec. 4.1), and why the
#   entry flow benefits most: the first depthwise step of a DSC sees one feature map per kernel, while
#   BSConv's pointwise step first mixes all of them. Lesson 7 trains both kinds of layer.
#
# ## Exercises
#
# Write each answer in the cell below its question and run the cell: `check` says whether it is right,
# and if not, why. The solutions are folded away under each question.
#
# **4.1** Write `dsc_kernel(w_dw, w_pw)`: the full kernel (N, M, K, K) of a DSC from its depthwise weights
# `w_dw` (M, 1, K, K) and pointwise weights `w_pw` (N, M, 1, 1).
#
# <details><summary>Solution 4.1</summary>
#
# ```python
# def dsc_kernel(w_dw, w_pw):
#     return w_pw * w_dw[:, 0][None]  # (N,M,1,1) * (1,M,K,K): F[n, m] = w[n, m] B'[m]
# ```
#
# </details>

# %%
from blueprint.course.exercises import check


def dsc_kernel(w_dw, w_pw): ...  # your answer


check("4.1", dsc_kernel)

# %% [markdown]
# **4.2** Write `cross_kernel_error(kernel)`: the relative error $\lVert F - F_{\text{DSC}} \rVert_F /
# \lVert F \rVert_F$ of the best DSC kernel for a kernel (N, M, K, K), using `reference.blueprint_factorize`.
#
# <details><summary>Solution 4.2</summary>
#
# ```python
# def cross_kernel_error(kernel):
#     columns = kernel.transpose(1, 0, 2, 3)  # M,N,K,K: fit the columns
#     w_pw, w_dw, _ = reference.blueprint_factorize(columns)
#     fit = reference.bsconv_u_kernel(w_pw, w_dw).transpose(1, 0, 2, 3)
#     return np.linalg.norm(kernel - fit) / np.linalg.norm(kernel)
# ```
#
# </details>


# %%
def cross_kernel_error(kernel): ...  # your answer


check("4.2", cross_kernel_error)

# %% [markdown]
# **4.3** For a $3 \times 3$ layer with $N = 64$ filters over $M = 32$ input channels, how many more
# parameters `extra_params` has the BSConv-U fit than the DSC fit?
#
# <details><summary>Solution 4.3</summary>
#
# ```python
# extra_params = (64 - 32) * 3**2  # N K^2 + N M - (M K^2 + N M)
# ```
#
# </details>

# %%
extra_params = None  # your answer
check("4.3", extra_params)
