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
# # Lesson 1: Intra-kernel correlations (Sec. 3.1)
#
# *Study time: about 45 minutes. Prerequisites: what a 2-D convolution and a PCA are; NumPy. The paper's
# Sec. 3.1 beside you helps.*
#
# **What you will learn**
#
# - what a filter kernel of a regular convolution is (Eq. 1) and what its *depth slices* are;
# - how to see, in a kernel of a network you trained yourself, that the slices look like one
#   $K \times K$ "blueprint" scaled by different factors (the observation behind Fig. 2 and Eq. 2);
# - how to measure it the way Sec. 3.1 does: a PCA of each filter's slices and the share of their variance
#   explained by the first principal component (PC1), collected per stage into a histogram (Fig. 3);
# - that training *creates* these correlations: a randomly initialized kernel shows far less of them.
#
# Everything here uses plain PyTorch, NumPy and `reference` (the NumPy specification of the paper).

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

torch.manual_seed(0)
EPOCHS = 10 if FAST else 40

# %% [markdown]
# ## 1. Train a small regular CNN
#
# A regular convolution layer (Eq. 1) maps an input $U$ with $M$ channels to an output $V$ with $N$ channels,
# $V_{n,:,:} = U * F^{(n)}$, using $N$ filter kernels $F^{(1)}, \dots, F^{(N)}$ of size $M \times K \times K$.
# We train a small VGG-style CNN on scikit-learn's 8x8 handwritten digits: stage 1 works at 8x8 pixels,
# stage 2 (after a max-pooling) at 4x4. We keep a copy of the kernels at initialization to compare with later.

# %%
data = digits()
model = digits_cnn()
initial = conv_kernels(model)
history = train(model, data, epochs=EPOCHS)
trained = conv_kernels(model)
print(f"test accuracy after {EPOCHS} epochs: {history[-1]:.3f}")
for name, w in trained.items():
    print(f"  {name:18s} kernel (N, M, K, K) = {w.shape}")
assert history[-1] > 0.95, "the small CNN should classify the digits well"

# %% [markdown]
# ## 2. One kernel, sliced along its depth axis (cf. Fig. 2)
#
# A filter $F^{(n)}$ of shape $M \times K \times K$ is a stack of $M$ slices $F^{(n)}_{m,:,:}$, one per input
# channel. Fig. 2 of the paper shows that in trained networks many slices of one filter are the same
# $K \times K$ pattern, only scaled, sometimes by a negative factor (an "inverted" copy).
# We look at the last convolution of stage 2 and pick the filter whose slices are most alike (largest PC1
# share, computed in section 3); every slice is drawn on one shared color scale.

# %%
layer = "features.4.conv"
w = trained[layer]  # N,M,K,K
n_filters, m_slices, k, _ = w.shape
explained = reference.pc1_explained_variance(w)  # N
n = int(np.argmax(explained))
slices = w[n]  # M,K,K

fig = figure(5.6)
grid_fig, side_fig = fig.subfigures(1, 2, width_ratios=[2.5, 1])
cols = 8
axes = grid_fig.subplots(int(np.ceil(m_slices / cols)), cols)
bound = np.abs(slices).max()
for m, ax in enumerate(axes.flat):
    ax.set_xticks([])
    ax.set_yticks([])
    if m < m_slices:
        image = ax.imshow(slices[m], cmap="RdBu_r", vmin=-bound, vmax=bound)
for row, ax in enumerate(axes[:, 0]):  # each row holds 8 consecutive slices
    ax.set_ylabel(
        f"m={row * cols + 1}-{min(m_slices, (row + 1) * cols)}", rotation=0, ha="right"
    )
grid_fig.colorbar(image, ax=axes, shrink=0.6, label="weight value")
grid_fig.suptitle(f"the {m_slices} slices $F^{{(n)}}_m$ of filter n={n + 1}")
ax_bp, ax_scores = side_fig.subplots(2, 1, height_ratios=[1, 1.4])
u, s, vt = np.linalg.svd(slices.reshape(m_slices, k * k), full_matrices=False)
blueprint = vt[0].reshape(k, k) * np.sign(vt[0][np.argmax(np.abs(vt[0]))])
ax_bp.imshow(
    blueprint,
    cmap="RdBu_r",
    vmin=-np.abs(blueprint).max(),
    vmax=np.abs(blueprint).max(),
)
ax_bp.set_xticks([])
ax_bp.set_yticks([])
ax_bp.set_title("blueprint $B$")
factors = (
    slices.reshape(m_slices, k * k) @ blueprint.ravel()
)  # M: the factor w_{n,m} of each slice
ax_scores.bar(
    np.arange(1, m_slices + 1),
    factors,
    color=np.where(factors >= 0, "tab:red", "tab:blue"),
)
ax_scores.axhline(0, color="black", linewidth=0.6)
ax_scores.set_xlabel("input channel m")
ax_scores.set_title("$w_{n,m}$ = <slice, B>")
fig.suptitle(f"Layer {layer} (N={n_filters}, M={m_slices}, K={k}), slice by slice")
uncentered = s[0] ** 2 / np.sum(
    s**2
)  # the share of ||F^(n)||^2 that the blueprint fit of Eq. (2) keeps
save(
    fig,
    "01_kernel_slices.png",
    "Red is positive, blue negative. Many slices repeat the blueprint on the right, "
    "scaled up, down or "
    "inverted (negative factor). The blueprint is the uncentered fit of Eq. (2), "
    "which keeps "
    f"{100 * uncentered:.0f}% of the filter's squared norm; the centered PCA of Sec. "
    "3.1 finds PC1 explaining "
    f"{100 * explained[n]:.0f}% of its slice variance (section 5 reconciles the two).",
)

# %% [markdown]
# The blueprint of this filter is a smooth, nearly uniform 3x3 patch, and so are those of the other filters of
# this layer with the strongest correlation: at 4x4 pixels, with zero padding around them, the deepest layer of
# our small network mostly sums up its neighborhood, with a sign and a weight per input channel. The ImageNet
# kernels of the paper's Fig. 2 show richer blueprints (edges, center-surround patterns); the principle is the same.

# %% [markdown]
# ## 3. The PCA of a filter's slices, by hand
#
# Sec. 3.1 quantifies the observation per filter: (i) split the $M \times K \times K$ kernel into $M$ samples
# of $K \cdot K$ values, (ii) run a PCA on these $M$ samples, (iii) report the share of their variance that the
# first principal component explains. With the centered samples $S_c = S - \bar{S}$ (an $M \times K^2$ matrix)
# and its singular values $\sigma_1 \ge \sigma_2 \ge \dots$, that share is $\sigma_1^2 / \sum_i \sigma_i^2$.
# If the slices were exactly $F^{(n)}_{m} = w_{n,m} B^{(n)}$ (Eq. 2), the centered samples
# $(w_{n,m} - \bar w_n) B^{(n)}$ would all lie on the line spanned by $B^{(n)}$ and PC1 would explain 100%.
# The converse does not hold, as section 5 shows: 100% means the slices lie on *a line through their mean
# slice*, and that mean need not be on the line.
#
# We compute it for every filter of the layer with a plain SVD and check it against
# `reference.pc1_explained_variance`.


# %%
def pc1_share_by_hand(kernel):
    """Per filter: sigma_1^2 / sum sigma_i^2 of its centered (M, K*K) slice matrix, and
    all the ratios."""
    samples = kernel.reshape(kernel.shape[0], kernel.shape[1], -1)  # N,M,KK
    centered = samples - samples.mean(axis=1, keepdims=True)  # N,M,KK
    sigma = np.linalg.svd(centered, compute_uv=False)  # N,min(M,KK)
    ratios = sigma**2 / np.sum(sigma**2, axis=1, keepdims=True)  # N,min(M,KK)
    return ratios[:, 0], ratios


share, ratios = pc1_share_by_hand(w)
np.testing.assert_allclose(share, reference.pc1_explained_variance(w), rtol=1e-10)
_, ratios_init = pc1_share_by_hand(initial[layer])
print(
    f"{layer}: PC1 explains {100 * share.mean():.1f}% on average after training, "
    f"{100 * ratios_init[:, 0].mean():.1f}% at initialization"
)

# %% [markdown]
# Plotting the share of each principal component (a scree plot) shows how the trained kernel differs from a
# random one: after training, the first component stands out; at initialization the variance is spread over
# all $K^2 = 9$ directions almost evenly (for random slices PC1 still gets more than 1/9, as the largest of nine
# noisy variances). The right panel shows every slice of the filter from section 2 in the plane of its first
# two principal components: the slices spread out along PC1, i.e. they are one pattern at different scales.

# %%
fig = figure(7.4)
ax_scree, ax_plane = fig.subplots(2, 1, height_ratios=[1, 1.1])
components = np.arange(1, ratios.shape[1] + 1)
ax_scree.plot(
    components,
    100 * ratios.mean(axis=0),
    "o-",
    color="tab:red",
    label=f"trained ({EPOCHS} epochs)",
)
ax_scree.plot(
    components,
    100 * ratios_init.mean(axis=0),
    "s--",
    color="tab:gray",
    label="random initialization",
)
ax_scree.set_xlabel("principal component of the slices")
ax_scree.set_ylabel("variance explained (%), mean over filters")
ax_scree.set_title(f"scree plot, all {n_filters} filters of {layer}")
ax_scree.set_xticks(components)
ax_scree.legend()
centered = slices.reshape(m_slices, -1) - slices.reshape(m_slices, -1).mean(
    axis=0
)  # M,KK
_, _, pcs = np.linalg.svd(centered, full_matrices=False)
scores = centered @ pcs[:2].T  # M,2
ax_plane.scatter(scores[:, 0], scores[:, 1], color="tab:purple")
ax_plane.axhline(0, color="black", linewidth=0.5)
ax_plane.axvline(0, color="black", linewidth=0.5)
ax_plane.set_aspect("equal", adjustable="datalim")
ax_plane.set_xlabel("score on PC1")
ax_plane.set_ylabel("score on PC2")
ax_plane.set_title(f"the {m_slices} slices of filter n={n + 1} in PC space")
fig.suptitle("A PCA of each filter's depth slices (Sec. 3.1, steps i-iii)")
save(
    fig,
    "01_pca_of_slices.png",
    "Left: after training, PC1 carries far more of the slice variance than at "
    "initialization. "
    "Right: one filter's slices lie close to a line, the PC1 axis: one pattern, many "
    "scales.",
)

# %% [markdown]
# ## 4. Every filter of every stage: the histogram of Fig. 3
#
# Fig. 3 collects the PC1 share of every filter, grouped by stage. The first convolution has only $M = 1$
# input channel (the gray image), so it has a single slice per filter and no slice variance: like the paper,
# we analyze the convolutions with $M \ge 2$. Stage 1 is the 8x8 part of the network, stage 2 the 4x4 part.

# %%
stages = {
    "stage 1 (8x8)": ["features.1.conv"],
    "stage 2 (4x4)": ["features.3.conv", "features.4.conv"],
}
fig = figure(7.0)
axes = fig.subplots(2, 1, sharex=True)
edges = np.linspace(0, 100, 21)
colors = ["tab:blue", "tab:orange"]
for ax, kernels, when in [
    (axes[0], initial, "at random initialization"),
    (axes[1], trained, f"after {EPOCHS} epochs"),
]:
    for color, (stage, names) in zip(colors, stages.items()):
        values = 100 * np.concatenate(
            [reference.pc1_explained_variance(kernels[n]) for n in names]
        )
        ax.hist(
            values,
            bins=edges,
            weights=np.full(values.size, 100 / values.size),
            color=color,
            alpha=0.35,
        )
        ax.hist(
            values,
            bins=edges,
            weights=np.full(values.size, 100 / values.size),
            color=color,
            histtype="step",
            linewidth=2,
            label=f"{stage}: {values.size} filters, mean {values.mean():.0f}%",
        )
    ax.set_xlim(0, 100)
    ax.set_ylabel("filters of the stage (%)")
    ax.set_title(when)
    ax.legend(loc="upper left")
axes[1].set_xlabel("variance of a filter's slices explained by PC1 (%)")
fig.suptitle("Intra-kernel correlation of every filter, per stage (cf. Fig. 3)")
save(
    fig,
    "01_pc1_histogram.png",
    "Each filter's M slices (3x3) are PCA samples; 100% means they lie on a line "
    "through their mean slice "
    "(Eq. 2 implies 100%, not the converse: section 5). Training moves every stage to "
    "the right.",
)

# %%
for stage, names in stages.items():
    before = np.mean(
        [reference.pc1_explained_variance(initial[n]).mean() for n in names]
    )
    after = np.mean(
        [reference.pc1_explained_variance(trained[n]).mean() for n in names]
    )
    print(f"{stage}: mean PC1 share {100 * before:.1f}% -> {100 * after:.1f}%")
    assert after > before, (
        f"training should increase the intra-kernel correlation of {stage}"
    )

# %% [markdown]
# ## 5. What 100% means: the centered PCA of Sec. 3.1 against the uncentered fit of Eq. (2)
#
# Two different statistics of a filter's slice matrix $S$ ($M \times K^2$, one row per slice) appear in this
# book, and they answer different questions:
#
# - **Sec. 3.1's PCA is centered.** It subtracts the mean slice $\bar s$ and reports
#   $\sigma_1^2(S - \mathbf 1 \bar s^T) / \lVert S - \mathbf 1 \bar s^T \rVert_F^2$
#   (`reference.pc1_explained_variance`, the x-axis of Fig. 3). 100% means every slice is
#   $\bar s + a_m v$ for one direction $v$: the slices lie on a line *through their mean*.
# - **Eq. (2) is uncentered.** $F^{(n)}_m = w_{n,m} B^{(n)}$ says every slice is on a line *through zero*.
#   Its best fit is the top singular vector of $S$ itself (`reference.blueprint_factorize`, lesson 4, and
#   `blueprint.convert(init="svd")`, lesson 7), and it keeps the share $\sigma_1^2(S) / \lVert S \rVert_F^2$
#   of the filter's squared norm; its relative error is $\sqrt{1 - \text{that share}}$.
#
# Eq. (2) implies 100% PC1 (its centered slices are $(w_{n,m} - \bar w_n) B^{(n)}$), but not the other way
# round: take a mean slice $\bar s$ perpendicular to $v$. Then PC1 explains all of the variance, and no single
# blueprint fits the slices, because they span two directions, $\bar s$ and $v$.

# %%
rng = np.random.default_rng(1)
v = rng.standard_normal(k * k)  # the direction the slices vary along
mean_slice = rng.standard_normal(k * k)
mean_slice -= (mean_slice @ v) / (v @ v) * v  # perpendicular to v
scales = rng.standard_normal(m_slices)
on_a_line = (mean_slice + scales[:, None] * v).reshape(
    1, m_slices, k, k
)  # 1,M,K,K: slices s_bar + a_m v
_, _, fit_error = reference.blueprint_factorize(on_a_line)
pc1 = reference.pc1_explained_variance(on_a_line)
print(
    f"slices on a line off the origin: PC1 explains {100 * pc1[0]:.1f}%, "
    f"the best Eq. (2) fit leaves a relative error of {100 * fit_error[0]:.0f}%"
)
assert pc1[0] > 1 - 1e-12 and fit_error[0] > 0.2, (
    "100% PC1 does not make a kernel of the form of Eq. (2)"
)
eq2_kernel = reference.bsconv_u_kernel(
    rng.standard_normal((1, m_slices, 1, 1)), rng.standard_normal((1, 1, k, k))
)
assert (
    reference.pc1_explained_variance(eq2_kernel)[0] > 1 - 1e-12
)  # ... while Eq. (2) does give 100%
assert reference.blueprint_factorize(eq2_kernel)[2][0] < 1e-12  # and is fitted exactly

# %% [markdown]
# For a trained kernel the two shares differ by how much of the slices is their common mean slice: where
# the slices' signs cancel on average the mean is small and the shares are close; where the slices share a
# pattern, centering removes it and the shares part. Fig. 3 (and this lesson's histogram) uses the centered
# share, as the paper does; how well a layer can be *replaced* by BSConv-U is measured by the uncentered
# fit, in lesson 4. The cell prints both for the layer of section 2, and how much of the filters' squared
# norm their mean slice holds.

# %%
centered_share = reference.pc1_explained_variance(w)  # N
uncentered_share = 1 - reference.blueprint_factorize(w)[2] ** 2  # N
mean_part = (
    m_slices * np.sum(w.mean(axis=1) ** 2, axis=(1, 2)) / np.sum(w**2, axis=(1, 2, 3))
)  # N
print(
    f"{layer}, mean over its {n_filters} filters: centered PC1 share "
    f"{100 * centered_share.mean():.1f}%, "
    f"uncentered (Eq. 2) share {100 * uncentered_share.mean():.1f}%, "
    f"mean slice {100 * mean_part.mean():.1f}% of the squared norm"
)

# %% [markdown]
# ## What we saw
#
# - Trained kernels are far from arbitrary: the slices of one filter tend to be scaled copies of one
#   $K \times K$ pattern. On ImageNet networks the paper finds PC1 explaining about 50% of the variance on
#   average; in our tiny digits network the share rises with training in both stages (the numbers are
#   printed above; they vary with the seed and the number of epochs).
# - The PC1 share is a centered statistic: Eq. (2) implies 100%, not the converse.
# - This motivates Eq. (2), $F^{(n)}_{m,:,:} = w_{n,m} B^{(n)}$: store one blueprint per filter and $M$
#   factors instead of $M$ full slices. Lesson 2 turns that into a layer.
#
# ## Exercises
#
# Write each answer in the cell below its question and run the cell: `check` says whether it is right,
# and if not, why. The solutions are folded away under each question.
#
# **1.1** Write `pc1_share(slices)`: the share of variance PC1 explains for one filter of shape
# $(M, K, K)$, as Sec. 3.1 computes it.
#
# <details><summary>Solution 1.1</summary>
#
# ```python
# def pc1_share(slices):
#     s = slices.reshape(len(slices), -1)  # M,KK
#     sigma = np.linalg.svd(s - s.mean(axis=0), compute_uv=False)
#     return sigma[0] ** 2 / np.sum(sigma**2)
# ```
#
# </details>

# %%
from blueprint.course.exercises import check


def pc1_share(slices): ...  # your answer


check("1.1", pc1_share)

# %% [markdown]
# **1.2** Build one filter `centered_not_eq2` of shape $(M, K, K)$ whose PC1 share is 100% but which
# `reference.blueprint_factorize` fits with a relative error above 10%.
#
# <details><summary>Solution 1.2</summary>
#
# ```python
# v, mean = np.zeros(9), np.zeros(9)
# v[0], mean[1] = 1.0, 1.0  # perpendicular
# centered_not_eq2 = (mean + np.arange(4.0)[:, None] * v).reshape(4, 3, 3)
# ```
#
# </details>

# %%
centered_not_eq2 = None  # your answer
check("1.2", centered_not_eq2)

# %% [markdown]
# **1.3** Write `uncentered_share(slices)`: the share of the filter's squared norm that the best blueprint
# of Eq. (2) keeps, $\sigma_1^2(S) / \lVert S \rVert_F^2$.
#
# <details><summary>Solution 1.3</summary>
#
# ```python
# def uncentered_share(slices):
#     sigma = np.linalg.svd(slices.reshape(len(slices), -1), compute_uv=False)
#     return sigma[0] ** 2 / np.sum(sigma**2)
# ```
#
# </details>


# %%
def uncentered_share(slices): ...  # your answer


check("1.3", uncentered_share)
