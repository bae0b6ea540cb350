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
# # Lesson 7: Training BSConv networks with the PyTorch backend
#
# *Study time: about 60 minutes, a few of them for training. Prerequisites: lessons 1-4;
# PyTorch's `nn.Module`, an optimizer and a training loop; the paper's Sec. 5.*
#
# **What you will learn**
#
# - how the model zoo builds a baseline CNN and its BSConv-U (Sec. 3.3.1) and BSConv-S (Sec. 3.3.2) twins, and
#   what they cost (`blueprint.profile`);
# - how to train them with the paper's protocol (Sec. 5: SGD with momentum, weight decay, the orthonormal loss of
#   Eq. 9 weighted by $\alpha$) using `blueprint.training.fit`, and how they compare;
# - how `blueprint.convert(..., init="svd")` turns an already trained regular CNN into a BSConv-U one, starting
#   from the best blueprint fit of each kernel (lesson 4), and how to recover its accuracy;
# - how to run the analysis of Sec. 3.1 (`blueprint.analysis`) on the trained network, and why BSConv-S
#   follows (the rows of a trained BSConv-U's $W$ are correlated);
# - that the `accel` backend (lesson 6) runs the trained BSConv layers and computes the same outputs.
#
# Everything trains on scikit-learn's 8x8 digits on the CPU, in seconds.

# %%
import atexit
import copy
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as tF

import blueprint
from blueprint.analysis import analyze_kernels, plot_kernel_slices, plot_pc1_histogram
from blueprint.course.kit import FAST, OUT, one_thread, save, show
from blueprint.models import create
from blueprint.plotting import figure
from blueprint.training import evaluate, fit, load_checkpoint, recipe
from blueprint.training.data import make_loader

one_thread()

torch.manual_seed(0)
EPOCHS = 6 if FAST else 30
FINE_TUNE_EPOCHS = 1 if FAST else 3
runs = Path(
    tempfile.mkdtemp(prefix="blueprint_lesson7_")
)  # checkpoints and metrics of the runs
atexit.register(
    shutil.rmtree, runs, ignore_errors=True
)  # removed when Python (or the notebook kernel) exits
CPU = torch.device("cpu")

# %% [markdown]
# ## 1. A baseline and its two BSConv twins
#
# `digits_cnn` is a small VGG-style network: two stages of two 3x3 convolutions (8x8, then 4x4 pixels) with
# BatchNorm and ReLU, global average pooling and a classifier. Its twins replace every 3x3 convolution with
# BSConv-U, or with BSConv-S at $p = 1/4$, exactly as the paper's official implementation replaces layers.

# %%
names = {
    "baseline": "digits_cnn",
    "BSConv-U": "digits_cnn_bsconvu",
    "BSConv-S (p=1/4)": "digits_cnn_bsconvs_p1d4",
}
costs = {
    label: blueprint.profile(create(name, num_classes=10), (1, 8, 8))
    for label, name in names.items()
}
for label, cost in costs.items():
    print(
        f"{label:17s} {cost.params:>7,} parameters  {cost.flops / 1e6:5.2f} M "
        "multiply-adds per image"
    )
print(create(names["BSConv-U"], num_classes=10).features[1])
assert costs["BSConv-U"].params < costs["baseline"].params / 5
assert costs["BSConv-S (p=1/4)"].params < costs["BSConv-U"].params

# %% [markdown]
# ## 2. Training all three with the paper's protocol
#
# `recipe("digits")` is the fine-grained protocol of Sec. 5.3 shortened to the digits: SGD with momentum 0.9,
# weight decay, a learning rate decayed linearly to zero, random shifts by one pixel, and the orthonormal loss of
# Eq. (9) with $\alpha = 0.01$ added to the cross-entropy (it is zero for models without BSConv-S). We also train
# BSConv-S with $\alpha = 0$, to see what the regularization does to $W^B$.


# %%
def train(label, folder, model_name, **overrides):
    config = recipe(
        "digits",
        model=model_name,
        epochs=EPOCHS,
        output_dir=str(runs / folder),
        **overrides,
    )
    result = fit(config, log=lambda line: None)
    print(
        f"{label:24s} best test accuracy {result.best_acc:.3f}, last "
        f"{result.history[-1]['test_acc']:.3f}, "
        f"final L_ortho {result.history[-1]['ortho_loss']:.3f}"
    )
    return config, result


folders = {
    "baseline": "baseline",
    "BSConv-U": "bsconv_u",
    "BSConv-S (p=1/4)": "bsconv_s",
}
trained = {label: train(label, folders[label], name) for label, name in names.items()}
trained["BSConv-S, alpha=0"] = train(
    "BSConv-S, alpha=0", "bsconv_s_alpha0", names["BSConv-S (p=1/4)"], alpha=0.0
)
accuracy = {
    label: result.history[-1]["test_acc"] for label, (_, result) in trained.items()
}
if not FAST:
    assert min(accuracy.values()) > 0.95, "every network should learn the digits"
    assert accuracy["BSConv-U"] > accuracy["baseline"] - 0.02, (
        "BSConv-U should match the baseline closely"
    )
ortho = {
    label: trained[label][1].history[-1]["ortho_loss"]
    for label in ("BSConv-S (p=1/4)", "BSConv-S, alpha=0")
}
assert ortho["BSConv-S (p=1/4)"] < ortho["BSConv-S, alpha=0"], (
    "Eq. (9) should pull W^B towards orthonormal rows"
)

# %%
fig = figure(7.6)
ax_acc, ax_ortho = fig.subplots(2, 1, sharex=True)
colors = {
    "baseline": "black",
    "BSConv-U": "tab:blue",
    "BSConv-S (p=1/4)": "tab:green",
    "BSConv-S, alpha=0": "tab:olive",
}
for label, (_, result) in trained.items():
    epochs = [row["epoch"] for row in result.history]
    params = costs.get(label, costs["BSConv-S (p=1/4)"]).params
    style = "--" if "alpha=0" in label else "-"
    ax_acc.plot(
        epochs,
        [100 * row["test_acc"] for row in result.history],
        style,
        color=colors[label],
        label=f"{label}: {params:,} params",
    )
    if "BSConv-S" in label:
        ax_ortho.plot(
            epochs,
            [row["ortho_loss"] for row in result.history],
            style,
            color=colors[label],
            label=label.replace("(p=1/4)", "alpha=0.01"),
        )
low = min(
    100 * row["test_acc"]
    for _, result in trained.values()
    for row in result.history[len(result.history) // 3 :]
)
ax_acc.set_ylim(
    max(0, np.floor(low) - 1), 100
)  # the last two thirds of training, where the curves differ
ax_acc.set_ylabel("test accuracy (%)")
ax_acc.set_title("test accuracy on the digits")
ax_acc.legend(loc="lower right")
ax_ortho.set_xlabel("epoch")
ax_ortho.set_ylabel("$L_{ortho}$, summed over\nthe BSConv-S layers")
ax_ortho.set_title("Eq. (9) during training")
ax_ortho.legend()
fig.suptitle(
    "A regular CNN and its BSConv twins on 8x8 digits\n"
    f"({EPOCHS} epochs, Sec. 5 protocol)"
)
save(
    fig,
    "07_training_curves.png",
    f"Top: final test accuracy {100 * accuracy['baseline']:.1f}% for the baseline, "
    f"{100 * accuracy['BSConv-U']:.1f}% for "
    f"BSConv-U with {costs['baseline'].params / costs['BSConv-U'].params:.1f}x fewer "
    "parameters. Bottom: with alpha = 0.01 Eq. (9) is pulled down to "
    f"{ortho['BSConv-S (p=1/4)']:.2f}; without it (alpha = 0) it ends at "
    f"{ortho['BSConv-S, alpha=0']:.2f}.",
)

# %% [markdown]
# How large are these differences? The test set has a few hundred images, so one image is a fraction of a
# percentage point, and two runs with different seeds differ by a few images. The cell below prints the gaps
# in images, and compares the best accuracies of BSConv-S with and without the orthonormal loss.

# %%
n_test = sum(len(y) for _, y in make_loader(trained["baseline"][0], CPU).test_batches())
gap = accuracy["baseline"] - accuracy["BSConv-U"]
print(
    f"{n_test} test images; BSConv-U ends {100 * gap:+.1f} points below the baseline: "
    f"{round(gap * n_test)} images"
)
best = {label: result.best_acc for label, (_, result) in trained.items()}
print(
    f"best accuracy of BSConv-S: {100 * best['BSConv-S (p=1/4)']:.1f}% with alpha = "
    "0.01, "
    f"{100 * best['BSConv-S, alpha=0']:.1f}% with alpha = 0 "
    f"({round((best['BSConv-S (p=1/4)'] - best['BSConv-S, alpha=0']) * n_test):+d} "
    "images)"
)

# %% [markdown]
# On this data the orthonormal loss changes $W^B$ (right panel) much more than it changes the accuracy: a
# difference of a few images between $\alpha = 0.01$ and $\alpha = 0$, from one run each, cannot be told
# apart from the spread between seeds, which this lesson does not measure. The paper's gains from $\alpha$ are measured on CIFAR and ImageNet models over many epochs; a
# 10-class 8x8 task that every variant nearly solves cannot show them.
#
# ## 3. Converting a trained network instead of training from scratch
#
# `blueprint.convert(model, to="bsconv_u", init="svd")` replaces each 3x3 convolution in place by a BSConv-U whose
# weights are the best rank-1 blueprint fit of the trained kernel (lesson 4: one SVD per filter). The report lists
# each layer's relative error: our kernels are far from rank 1 (lesson 4 measured the same), so the converted
# network starts out much worse. Two steps bring it back:
#
# 1. **Recalibrating BatchNorm.** The BatchNorm layers after each convolution still hold the mean and variance of
#    the *old* activations. A pass over the training data in training mode, without gradients, re-estimates them
#    for the new layers (`momentum=None` makes it an exact average over the pass).
# 2. **Fine-tuning** for a few epochs with a small learning rate.

# %%
config, _ = trained["baseline"]
loader = make_loader(config, CPU)
baseline = create(names["baseline"], num_classes=10)
baseline.load_state_dict(load_checkpoint(str(runs / "baseline" / "last.pt"))["model"])
converted = blueprint.convert(copy.deepcopy(baseline), to="bsconv_u", init="svd")
print(converted.conversion_report.table())
steps = {
    "trained baseline": evaluate(baseline, loader, CPU)[1],
    "converted (SVD init)": evaluate(converted, loader, CPU)[1],
}

for module in converted.modules():
    if isinstance(module, torch.nn.BatchNorm2d):
        module.reset_running_stats()
        module.momentum = None  # a cumulative average over the pass
converted.train()
with torch.no_grad():
    for x, _ in loader.train_batches(0):
        converted(x)
for module in converted.modules():
    if isinstance(module, torch.nn.BatchNorm2d):
        module.momentum = 0.1
steps["BatchNorm recalibrated"] = evaluate(converted, loader, CPU)[1]

optimizer = torch.optim.SGD(
    converted.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4
)
for epoch in range(FINE_TUNE_EPOCHS):
    converted.train()
    for x, y in loader.train_batches(epoch):
        loss = tF.cross_entropy(converted(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
steps[f"fine-tuned {FINE_TUNE_EPOCHS} epoch(s)"] = evaluate(converted, loader, CPU)[1]
for step, acc in steps.items():
    print(f"{step:26s} test accuracy {acc:.3f}")
values = list(steps.values())
assert values[2] > values[1] and values[3] > values[1], (
    "recalibration and fine-tuning should recover accuracy"
)

fig = figure(4.2)
ax = fig.subplots()
bars = ax.bar(
    range(len(steps)),
    [100 * v for v in values],
    color=["black", "tab:red", "tab:orange", "tab:blue"],
)
ax.bar_label(bars, fmt="%.1f%%")
ax.set_xticks(range(len(steps)), labels=list(steps))
ax.set_ylim(0, 110)
ax.set_xlabel("step of the conversion")
ax.set_ylabel("test accuracy (%)")
ax.set_title("Converting the trained baseline to BSConv-U")
save(
    fig,
    "07_conversion.png",
    "blueprint.convert(init='svd') replaces each 3x3 kernel by its best rank-1 "
    "blueprint fit (Eq. 2). The "
    f"BatchNorm statistics no longer match; re-estimating them and {FINE_TUNE_EPOCHS} "
    "epoch(s) of fine-tuning recover "
    f"most of the accuracy.",
)

# %% [markdown]
# ## 4. The analysis of Sec. 3.1 on the trained baseline
#
# `blueprint.analysis.analyze_kernels` computes each filter's PC1 share (lesson 1), grouped into stages by the
# resolution a forward pass reaches; its figures are the paper's Fig. 3 and Fig. 2 for our network.

# %%
result = analyze_kernels(baseline, input_size=(1, 8, 8))
print(result.table())
plot_pc1_histogram(
    result, OUT / "07_pc1_histogram.png", title=f"digits_cnn, trained {EPOCHS} epochs"
)
show(
    OUT / "07_pc1_histogram.png",
    "Fig. 3 for the trained baseline: the PC1 share (centered, lesson 1) of "
    "every filter, per stage. Drawn by `blueprint.analysis.plot_pc1_histogram`.",
)

# %%
deepest = result.layers[-1]
plot_kernel_slices(
    deepest.weight,
    int(np.argmax(deepest.explained)),
    OUT / "07_kernel_slices.png",
    title=f"digits_cnn layer {deepest.name}",
)
show(
    OUT / "07_kernel_slices.png",
    "Fig. 2 for the trained baseline: the slices of the filter with the largest "
    "PC1 share in the deepest layer, beside its blueprint. Drawn by "
    "`blueprint.analysis.plot_kernel_slices`.",
)

# %% [markdown]
# Training raised the PC1 share: a freshly initialized network of the same shape, analyzed the same way, has
# lower shares.

# %%
torch.manual_seed(config.seed)
untrained = analyze_kernels(
    create(names["baseline"], num_classes=10), input_size=(1, 8, 8)
)
mean_trained = np.mean(np.concatenate([layer.explained for layer in result.layers]))
mean_untrained = np.mean(
    np.concatenate([layer.explained for layer in untrained.layers])
)
print(
    f"mean PC1 share: {100 * mean_untrained:.1f}% at a random initialization, "
    f"{100 * mean_trained:.1f}% trained"
)
assert mean_trained > mean_untrained

# %% [markdown]
# Compare with lesson 1, where a network of the same shape reached 30-50%: the recipe's weight decay ($5 \cdot 10^{-4}$)
# is ten times smaller than lesson 1's, so after 30 epochs much of the random initialization is still in the
# kernels and the PC1 share is only a few points above that of random kernels. This is also why the rank-1
# fits of section 3 had large errors. The paper's ImageNet networks, trained for 100 epochs, reach about 50%.

# %% [markdown]
# ## 5. Why BSConv-S: the rows of a trained BSConv-U's $W$ are correlated
#
# Sec. 3.3.2 observes that in trained BSConv-U networks the rows of $W$ (one per filter) are highly correlated,
# i.e. $W$ is close to a matrix of lower rank, which motivates $W = W^A W^B$. We compare the singular values of
# each $W$ of our trained BSConv-U network with those of the same layer at a random initialization: after
# training they fall off faster, and the leading quarter of them (the subspace BSConv-S with $p = 1/4$ keeps)
# carries a larger share of $\lVert W \rVert_F^2$.


# %%
def pointwise_weights(net):
    """name -> W (N, M) of every BSConv-U layer with more than one input channel."""
    return {
        name: m.pw.weight.detach().double().numpy()[:, :, 0, 0]
        for name, m in net.named_modules()
        if isinstance(m, blueprint.BSConvU) and m.pw.in_channels > 1
    }


def top_quarter_energy(s):
    return np.sum(s[: int(np.ceil(len(s) / 4))] ** 2) / np.sum(s**2)


bsconv_u_net = create(names["BSConv-U"], num_classes=10)
bsconv_u_net.load_state_dict(
    load_checkpoint(str(runs / "bsconv_u" / "last.pt"))["model"]
)
torch.manual_seed(config.seed)
initial_weights = pointwise_weights(create(names["BSConv-U"], num_classes=10))
fig = figure(6.4)
ax = fig.subplots()
for (name, w), color in zip(
    pointwise_weights(bsconv_u_net).items(), ["tab:orange", "tab:green", "tab:red"]
):
    s, s0 = (
        np.linalg.svd(w, compute_uv=False),
        np.linalg.svd(initial_weights[name], compute_uv=False),
    )
    index = np.arange(1, len(s) + 1) / len(s)
    energy, energy0 = top_quarter_energy(s), top_quarter_energy(s0)
    ax.plot(
        index,
        s / s[0],
        "o-",
        markersize=3,
        color=color,
        label=f"{name} ({w.shape[0]}x{w.shape[1]}) trained: top quarter holds "
        f"{100 * energy:.0f}%",
    )
    ax.plot(
        index,
        s0 / s0[0],
        "--",
        color=color,
        alpha=0.6,
        label=f"{name} at init: {100 * energy0:.0f}%",
    )
    print(
        f"{name}: share of ||W||^2 in the top quarter of singular values "
        f"{100 * energy0:.0f}% at init, "
        f"{100 * energy:.0f}% trained"
    )
    assert energy > energy0, (
        "training should concentrate W's energy in fewer directions"
    )
ax.axvline(0.25, color="gray", linestyle=":", label="p = 1/4 (the BSConv-S subspace)")
ax.set_xlabel("singular value index / min(N, M)")
ax.set_ylabel("singular value / largest")
ax.set_title("Singular values of W in the BSConv-U network")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15))  # below the axis
save(
    fig,
    "07_bsconv_u_weight_spectrum.png",
    "Solid: after training; dashed: the same layers at a random initialization (seed "
    "0). A faster fall-off means the rows "
    "of $W$ are correlated, and a low-rank $W = W^A W^B$ (Eq. 8) loses less.",
)

# %% [markdown]
# ## 6. The same network on the `accel` backend
#
# Inside `with blueprint.use_backend("accel"):`, every BSConv layer without BatchNorm between its steps runs as
# one fused Numba forward and backward (lesson 6). What the network computes does not change:

# %%
x, _ = next(loader.test_batches())
bsconv_u_net.eval()
with torch.no_grad():
    y_torch = bsconv_u_net(x)
    with blueprint.use_backend("accel"):
        y_accel = bsconv_u_net(x)
print(
    f"max |torch - accel| on {tuple(x.shape)} digits: "
    f"{(y_torch - y_accel).abs().max().item():.1e}"
)
assert torch.allclose(y_torch, y_accel, atol=1e-4)

# %% [markdown]
# ## What we saw
#
# - On the digits, BSConv-U comes within a few test images of the regular CNN (the gap is printed in
#   section 2, in images) with a fifth of its parameters, and BSConv-S
#   saves more. That is close, not equal; the paper makes the comparison on CIFAR, ImageNet and
#   fine-grained data (Tables 1-4), where BSConv-U is as good as or better than the baselines.
# - The orthonormal loss of Eq. (9) does what lesson 3 showed on one matrix, now inside a training run; on
#   this small task it does not change the best accuracy by more than a few images.
# - A trained regular network converts to BSConv-U by one SVD per filter; after re-estimating BatchNorm's
#   statistics and a little fine-tuning it recovers most of its accuracy.
# - The command line does all of this, and can distil from the trained network as well:
#   `blueprint train --model digits_cnn_bsconvu --init-from runs/base/last.pt --distill-from
#   runs/base/last.pt` (`blueprint.recalibrate_bn` is the BatchNorm step). The book's Performance page
#   measures it on the digits over 5 seeds: the start is 81% instead of 10%, within 5 points of the
#   baseline after 2 epochs instead of 5, and the best final accuracy (98.2% median against 97.3% from
#   scratch); but reaching the last half point takes about as many epochs as from scratch, because the
#   rank-1 fit of these small trained filters is poor (relative error 0.9) and the recipe's first epochs
#   at its full learning rate undo much of the start.
# - From here: `blueprint train --dataset cifar10 --model cifar_mobilenetv1_w1_bsconvu` runs the paper's
#   experiments, and `blueprint analyze` the analysis, on your own models.
#
# ## Exercises
#
# Write each answer in the cell below its question and run the cell: `check` says whether it is right,
# and if not, why. The solutions are folded away under each question.
#
# **7.1** How many weights `bsconv_s_params` has `blueprint.BSConvS(64, 64, 3, p=0.25, bias=False)`?
# Count by hand, then compare with `blueprint.profile`.
#
# <details><summary>Solution 7.1</summary>
#
# ```python
# # W^B (M' x M), W^A (N x M') and the blueprints, with M' = 16:
# bsconv_s_params = 16 * 64 + 64 * 16 + 64 * 3**2
# ```
#
# </details>

# %%
from blueprint.course.exercises import check

bsconv_s_params = None  # your answer
check("7.1", bsconv_s_params)

# %% [markdown]
# **7.2** A run ends at 96.9% test accuracy for BSConv-U and 98.7% for the baseline, on 450 test images. How
# many images `images_apart` separate them?
#
# <details><summary>Solution 7.2</summary>
#
# ```python
# images_apart = round((0.987 - 0.969) * 450)
# ```
#
# </details>

# %%
images_apart = None  # your answer
check("7.2", images_apart)

# %% [markdown]
# **7.3** Sec. 4.2 reads MobileNetV2 (expansion factor 6) as BSConv-S. Which subspace ratio `mobilenetv2_p`
# gives BSConv-S exactly the weights of the shifted block (lesson 3, section 6)?
#
# <details><summary>Solution 7.3</summary>
#
# ```python
# mobilenetv2_p = 1 / 6  # M' = M / t
# ```
#
# </details>

# %%
mobilenetv2_p = None  # your answer
check("7.3", mobilenetv2_p)
