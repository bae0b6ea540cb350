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
# *Run time: about 95 s on a shared 2-core CPU, 37 s of it on the processor (measured by `./run.sh docs`, full mode).*
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
from matplotlib.figure import Figure

import reference
from lesson_kit import FAST, DigitsCNN, conv_kernels, digits, save, train

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
model = DigitsCNN(width=32)
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
layer = "stage2.2.0"
w = trained[layer]  # N,M,K,K
n_filters, m_slices, k, _ = w.shape
explained = reference.pc1_explained_variance(w)  # N
n = int(np.argmax(explained))
slices = w[n]  # M,K,K

fig = Figure(figsize=(11, 6.2), layout="constrained")
grid_fig, side_fig = fig.subfigures(1, 2, width_ratios=[3.2, 1])
cols = 8
axes = grid_fig.subplots(int(np.ceil(m_slices / cols)), cols)
bound = np.abs(slices).max()
for m, ax in enumerate(axes.flat):
    ax.set_xticks([])
    ax.set_yticks([])
    if m < m_slices:
        image = ax.imshow(slices[m], cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(f"m={m + 1}", fontsize=7, pad=2)
grid_fig.colorbar(image, ax=axes, shrink=0.6, label="weight value")
grid_fig.suptitle(f"the {m_slices} slices $F^{{(n)}}_m$ of filter n={n + 1} (3x3 each)", fontsize=10)
ax_bp, ax_scores = side_fig.subplots(2, 1, height_ratios=[1, 1.4])
u, s, vt = np.linalg.svd(slices.reshape(m_slices, k * k), full_matrices=False)
blueprint = vt[0].reshape(k, k) * np.sign(vt[0][np.argmax(np.abs(vt[0]))])
ax_bp.imshow(blueprint, cmap="RdBu_r", vmin=-np.abs(blueprint).max(), vmax=np.abs(blueprint).max())
ax_bp.set_xticks([])
ax_bp.set_yticks([])
ax_bp.set_title("blueprint B (top singular\nvector of the slices)", fontsize=9)
factors = slices.reshape(m_slices, k * k) @ blueprint.ravel()  # M: the factor w_{n,m} of each slice
ax_scores.bar(np.arange(1, m_slices + 1), factors, color=np.where(factors >= 0, "tab:red", "tab:blue"))
ax_scores.axhline(0, color="black", linewidth=0.6)
ax_scores.set_xlabel("input channel m")
ax_scores.set_ylabel("factor $w_{n,m}$ = <slice, B>")
ax_scores.set_title("how much of B each slice holds", fontsize=9)
fig.suptitle(
    f"Lesson 1: one trained kernel of layer {layer} (N={n_filters}, M={m_slices}, K={k}) seen slice by slice",
    fontsize=12,
)
save(fig, "01_kernel_slices.png",
     f"Red is positive, blue negative. Many slices repeat the blueprint on the right, scaled up, down or inverted "
     f"(negative factor): PC1 explains {100 * explained[n]:.0f}% of this filter's slice variance.")

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
# If the slices were exactly $F^{(n)}_{m} = w_{n,m} B^{(n)}$ (Eq. 2), the centered samples would all lie on
# the line spanned by $B^{(n)}$ and PC1 would explain 100%.
#
# We compute it for every filter of the layer with a plain SVD and check it against
# `reference.pc1_explained_variance`.

# %%
def pc1_share_by_hand(kernel):
    """Per filter: sigma_1^2 / sum sigma_i^2 of its centered (M, K*K) slice matrix, and all the ratios."""
    samples = kernel.reshape(kernel.shape[0], kernel.shape[1], -1)  # N,M,KK
    centered = samples - samples.mean(axis=1, keepdims=True)  # N,M,KK
    sigma = np.linalg.svd(centered, compute_uv=False)  # N,min(M,KK)
    ratios = sigma**2 / np.sum(sigma**2, axis=1, keepdims=True)  # N,min(M,KK)
    return ratios[:, 0], ratios


share, ratios = pc1_share_by_hand(w)
np.testing.assert_allclose(share, reference.pc1_explained_variance(w), rtol=1e-10)
_, ratios_init = pc1_share_by_hand(initial[layer])
print(f"{layer}: PC1 explains {100 * share.mean():.1f}% on average after training, "
      f"{100 * ratios_init[:, 0].mean():.1f}% at initialization")

# %% [markdown]
# Plotting the share of each principal component (a scree plot) shows how the trained kernel differs from a
# random one: after training, the first component stands out; at initialization the variance is spread over
# all $K^2 = 9$ directions almost evenly (for random slices PC1 still gets more than 1/9, as the largest of nine
# noisy variances). The right panel shows every slice of the filter from section 2 in the plane of its first
# two principal components: the slices spread out along PC1, i.e. they are one pattern at different scales.

# %%
fig = Figure(figsize=(11, 4.3), layout="constrained")
ax_scree, ax_plane = fig.subplots(1, 2)
components = np.arange(1, ratios.shape[1] + 1)
ax_scree.plot(components, 100 * ratios.mean(axis=0), "o-", color="tab:red", label=f"trained ({EPOCHS} epochs)")
ax_scree.plot(components, 100 * ratios_init.mean(axis=0), "s--", color="tab:gray", label="random initialization")
ax_scree.set_xlabel("principal component of the slices")
ax_scree.set_ylabel("variance explained (%), mean over filters")
ax_scree.set_title(f"scree plot, all {n_filters} filters of {layer}")
ax_scree.set_xticks(components)
ax_scree.legend()
centered = slices.reshape(m_slices, -1) - slices.reshape(m_slices, -1).mean(axis=0)  # M,KK
_, _, pcs = np.linalg.svd(centered, full_matrices=False)
scores = centered @ pcs[:2].T  # M,2
ax_plane.scatter(scores[:, 0], scores[:, 1], color="tab:purple")
ax_plane.axhline(0, color="black", linewidth=0.5)
ax_plane.axvline(0, color="black", linewidth=0.5)
ax_plane.set_aspect("equal", adjustable="datalim")
ax_plane.set_xlabel("score on PC1")
ax_plane.set_ylabel("score on PC2")
ax_plane.set_title(f"the {m_slices} slices of filter n={n + 1} in PC space")
fig.suptitle("Lesson 1: a PCA of each filter's depth slices (Sec. 3.1, steps i-iii)", fontsize=12)
save(fig, "01_pca_of_slices.png",
     "Left: after training, PC1 carries far more of the slice variance than at initialization. "
     "Right: one filter's slices lie close to a line, the PC1 axis: one pattern, many scales.")

# %% [markdown]
# ## 4. Every filter of every stage: the histogram of Fig. 3
#
# Fig. 3 collects the PC1 share of every filter, grouped by stage. The first convolution has only $M = 1$
# input channel (the gray image), so it has a single slice per filter and no slice variance: like the paper,
# we analyze the convolutions with $M \ge 2$. Stage 1 is the 8x8 part of the network, stage 2 the 4x4 part.

# %%
stages = {"stage 1 (8x8)": [n for n in trained if n.startswith("stage1")],
          "stage 2 (4x4)": [n for n in trained if n.startswith("stage2")]}
fig = Figure(figsize=(11, 4.3), layout="constrained")
axes = fig.subplots(1, 2, sharey=True)
edges = np.linspace(0, 100, 21)
colors = ["tab:blue", "tab:orange"]
for ax, kernels, when in [(axes[0], initial, "at random initialization"), (axes[1], trained, f"after {EPOCHS} epochs")]:
    for color, (stage, names) in zip(colors, stages.items()):
        values = 100 * np.concatenate([reference.pc1_explained_variance(kernels[n]) for n in names])
        ax.hist(values, bins=edges, weights=np.full(values.size, 100 / values.size), color=color, alpha=0.35)
        ax.hist(values, bins=edges, weights=np.full(values.size, 100 / values.size), color=color,
                histtype="step", linewidth=2, label=f"{stage}: {values.size} filters, mean {values.mean():.0f}%")
    ax.set_xlim(0, 100)
    ax.set_xlabel("variance of a filter's slices explained by PC1 (%)")
    ax.set_title(when)
    ax.legend(fontsize=8)
axes[0].set_ylabel("filters of the stage (%)")
fig.suptitle("Lesson 1: intra-kernel correlation of every filter, per stage (cf. Fig. 3)", fontsize=12)
save(fig, "01_pc1_histogram.png",
     "Each filter's M slices (3x3) are PCA samples; 100% would mean one blueprint explains all of them (Eq. 2). "
     "Training moves every stage to the right.")

# %%
for stage, names in stages.items():
    before = np.mean([reference.pc1_explained_variance(initial[n]).mean() for n in names])
    after = np.mean([reference.pc1_explained_variance(trained[n]).mean() for n in names])
    print(f"{stage}: mean PC1 share {100 * before:.1f}% -> {100 * after:.1f}%")
    assert after > before, f"training should increase the intra-kernel correlation of {stage}"

# %% [markdown]
# ## What we saw
#
# - Trained kernels are far from arbitrary: the slices of one filter tend to be scaled copies of one
#   $K \times K$ pattern. On ImageNet networks the paper finds PC1 explaining about 50% of the variance on
#   average; our tiny digits network gets there in its deepest layer.
# - This motivates Eq. (2), $F^{(n)}_{m,:,:} = w_{n,m} B^{(n)}$: store one blueprint per filter and $M$ factors
#   instead of $M$ full slices. Lesson 2 turns that into a layer.
