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
# # Lesson 5: Backpropagation by hand
#
# *Study time: about 75 minutes. Prerequisites: lessons 2 and 3; the chain rule; what a gradient check
# is. The book's page "Backward passes" collects every formula of this lesson in index form.*
#
# **What you will learn**
#
# - how to derive the backward pass of a convolution (Eq. 1) from its forward formula, and why the gradient
#   with respect to the input is a "transposed" convolution;
# - the backward passes of the two building blocks, pointwise (Eq. 6, 12, 13) and depthwise (Eq. 7, 14), and
#   how the chain rule strings them together for BSConv-U, BSConv-S and the DSC;
# - how to check any hand-derived gradient with central finite differences, and how to choose the step size;
# - that our derivations agree with `reference`'s backward functions and with PyTorch's autograd.

# %%
import numpy as np
import torch
import torch.nn.functional as tF

import reference
from blueprint.course.kit import FAST, one_thread, save
from blueprint.plotting import figure

one_thread()

rng = np.random.default_rng(0)

# %% [markdown]
# **Notation in this lesson.** A backward pass is written for one convolution at a time, whatever its place
# in a layer, so this lesson names its arrays by role rather than by the paper's letters: $X$ is the input
# (the paper's $U$), $Y$ the output (the paper's $V$), $W$ the weights of the step being differentiated (the
# full kernel $F$ for a regular convolution, the blueprints $B$ for a depthwise step, the matrix $W$ for a
# pointwise one), $\beta$ the bias (the code's `b`) and $G = \partial L / \partial Y$. Indices: $b$ the
# sample of the batch, $n$ and $m$ output and input channels, $c$ the one channel of a depthwise step,
# $(p, q)$ an output pixel, $(i, j)$ a kernel tap, $(r, t)$ an input pixel. The book's notation page lists
# all of them.
#
# ## 1. The tool: a scalar loss and central finite differences
#
# A backward pass takes $G = \partial L / \partial Y$ and returns the gradients of $L$ with respect to every
# input of the forward. To test one, we need a scalar $L$ whose $\partial L / \partial Y$ we know: with a fixed
# random array $G$ of the output's shape, $L = \sum Y \odot G$ has exactly $\partial L / \partial Y = G$.
#
# The check perturbs one entry $a$ of an input by $\pm\varepsilon$:
# $\partial L / \partial a \approx (L(a + \varepsilon) - L(a - \varepsilon)) / 2\varepsilon$. Its truncation
# error shrinks like $\varepsilon^2$, but rounding in $L$ (about $10^{-16} |L|$ in float64) is divided by
# $\varepsilon$; the figure at the end of the next section shows how to choose it.


# %%
def numeric_gradient(loss, array, index, eps):
    """Central difference of ``loss()`` with respect to ``array[index]`` (perturbed in
    place, then restored)."""
    saved = array[index]
    array[index] = saved + eps
    up = loss()
    array[index] = saved - eps
    down = loss()
    array[index] = saved
    return (up - down) / (2 * eps)


def check(name, loss, array, analytic, samples=6 if FAST else 20, eps=1e-5):
    """Compare ``analytic`` with finite differences at sampled entries; returns the
    largest relative error."""
    worst = 0.0
    for flat in rng.choice(array.size, size=min(samples, array.size), replace=False):
        index = np.unravel_index(flat, array.shape)
        numeric = numeric_gradient(loss, array, index, eps)
        worst = max(
            worst,
            abs(analytic[index] - numeric)
            / max(1e-8, abs(analytic[index]) + abs(numeric)),
        )
    print(f"  {name:32s} worst relative error vs finite differences: {worst:.1e}")
    assert worst < 1e-6, name
    return worst


# %% [markdown]
# ## 2. The regular convolution, derived
#
# With the input zero-padded by $P$, stride $S$ and dilation $D$, Eq. (1) computes
#
# $$Y_{b,n,p,q} = \beta_n + \sum_{m,i,j} X_{b,m,\,pS + iD,\,qS + jD}\; W_{n,m,i,j}.$$
#
# Each term is a product of one input value and one weight, so $L = \sum Y \odot G$ sends $G_{b,n,p,q}$ back to
# both factors of every product it contains:
#
# - $\partial L / \partial W_{n,m,i,j} = \sum_{b,p,q} G_{b,n,p,q}\, X_{b,m,\,pS + iD,\,qS + jD}$: the input
#   window of tap $(i, j)$ correlated with $G$;
# - $\partial L / \partial X_{b,m,r,t} = \sum G_{b,n,p,q}\, W_{n,m,i,j}$ over all $(n, i, j, p, q)$ with
#   $r = pS + iD$ and $t = qS + jD$: each output gradient is spread back over the window it was computed from,
#   a transposed convolution (then the padding is cut off);
# - $\partial L / \partial \beta_n = \sum_{b,p,q} G_{b,n,p,q}$.
#
# Organized by kernel tap $(i, j)$, forward and backward are the same loop: the forward adds
# $W_{:,:,i,j}$ times a strided window of $X$ into $Y$; the backward takes the same window for $\partial W$ and
# adds $W_{:,:,i,j}^T G$ into the same window of $\partial X$.


# %%
def window(i, j, out_hw, stride, dilation):
    """The (rows, cols) slices of the padded input that kernel tap (i, j) reads for
    every output pixel."""
    (ho, wo), (s, d) = out_hw, (stride, dilation)
    return slice(i * d, i * d + s * (ho - 1) + 1, s), slice(
        j * d, j * d + s * (wo - 1) + 1, s
    )


def conv_forward(x, w, b, stride, padding, dilation, depthwise=False):
    """Eq. (1), tap by tap. Regular: w (N, M, K, K); depthwise (one group per channel):
    w (C, 1, K, K)."""
    k = w.shape[2]
    x_pad = np.pad(
        x, ((0, 0), (0, 0), (padding, padding), (padding, padding))
    )  # B,M,H+2P,W+2P
    ho = (x_pad.shape[2] - dilation * (k - 1) - 1) // stride + 1
    wo = (x_pad.shape[3] - dilation * (k - 1) - 1) // stride + 1
    y = np.zeros((x.shape[0], w.shape[0], ho, wo))  # B,N,Ho,Wo
    for i in range(k):
        for j in range(k):
            rows, cols = window(i, j, (ho, wo), stride, dilation)
            taps = x_pad[:, :, rows, cols]  # B,M,Ho,Wo
            y += (
                taps * w[None, :, 0, i, j, None, None]
                if depthwise
                else np.einsum("nm,bmpq->bnpq", w[:, :, i, j], taps)
            )
    return y + b[None, :, None, None], (x_pad, w, stride, padding, dilation, depthwise)


def conv_backward(g, cache):
    """The three formulas above, tap by tap. Returns (dx, dw, db)."""
    x_pad, w, stride, padding, dilation, depthwise = cache
    k, (ho, wo) = w.shape[2], g.shape[2:]
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(k):
        for j in range(k):
            rows, cols = window(i, j, (ho, wo), stride, dilation)
            taps = x_pad[:, :, rows, cols]  # B,M,Ho,Wo
            if depthwise:
                dw[:, 0, i, j] = np.einsum("bcpq,bcpq->c", g, taps)
                dx_pad[:, :, rows, cols] += g * w[None, :, 0, i, j, None, None]
            else:
                dw[:, :, i, j] = np.einsum("bnpq,bmpq->nm", g, taps)
                dx_pad[:, :, rows, cols] += np.einsum("nm,bnpq->bmpq", w[:, :, i, j], g)
    h, wd = x_pad.shape[2] - 2 * padding, x_pad.shape[3] - 2 * padding
    return (
        dx_pad[:, :, padding : padding + h, padding : padding + wd],
        dw,
        g.sum(axis=(0, 2, 3)),
    )


geometry = dict(stride=2, padding=1, dilation=2)
x = rng.standard_normal((2, 3, 9, 9))  # B,M,H,W
w = rng.standard_normal((4, 3, 3, 3))  # N,M,K,K
b = rng.standard_normal(4)
y, cache = conv_forward(x, w, b, **geometry)
g = rng.standard_normal(y.shape)  # dL/dY for L = sum(Y * G)
dx, dw, db = conv_backward(g, cache)


def loss():
    return float(np.sum(conv_forward(x, w, b, **geometry)[0] * g))


print(f"regular convolution, stride 2, padding 1, dilation 2: y {y.shape}")
errors = {
    "conv: dx": check("dL/dX", loss, x, dx),
    "conv: dw": check("dL/dW", loss, w, dw),
    "conv: db": check("dL/dbias", loss, b, db),
}
y_ref, cache_ref = reference.conv2d_forward(x, w, b, **geometry)
assert np.allclose(y, y_ref)
for ours, theirs in zip((dx, dw, db), reference.conv2d_backward(g, cache_ref)):
    assert np.allclose(ours, theirs)
print("  ... and reference.conv2d_backward agrees")

# %% [markdown]
# Now the step size. A convolution is linear in each single weight (and in each single input value), so
# $L(a \pm \varepsilon)$ lies on a straight line and the central difference has **no** truncation error at all:
# only rounding remains, and it shrinks as $\varepsilon$ grows. A nonlinear loss behaves differently: for the
# orthonormal loss of Eq. (9) (lesson 3), the truncation error grows like $\varepsilon^2$ and rounding like
# $10^{-16}/\varepsilon$, so the error is smallest in between. The checks in this lesson use
# $\varepsilon = 10^{-5}$, good for both kinds.

# %%
index = (1, 2, 0, 1)
steps = np.logspace(-1, -13, 25)
conv_errors = [
    abs(numeric_gradient(loss, w, index, eps) - dw[index]) / abs(dw[index])
    for eps in steps
]

w_b = rng.standard_normal((3, 8)) / 3  # W^B of Eq. (9): M'=3 rows over M=8 channels
ortho_grad = reference.orthonormal_loss_backward(w_b)
ortho_errors = [
    abs(
        numeric_gradient(lambda: reference.orthonormal_loss(w_b), w_b, (0, 0), eps)
        - ortho_grad[0, 0]
    )
    / abs(ortho_grad[0, 0])
    for eps in steps
]
best = steps[int(np.argmin(ortho_errors))]
print(
    f"convolution: error {conv_errors[0]:.1e} even at eps = {steps[0]:.0e} (linear in "
    "each weight)"
)
print(f"Eq. (9): smallest error {min(ortho_errors):.1e} at eps = {best:.0e}")
assert conv_errors[0] < 1e-10
assert 1e-8 <= best <= 1e-3 and min(ortho_errors) < 1e-8

fig = figure(4.6)
ax = fig.subplots()
ax.loglog(
    steps,
    np.maximum(ortho_errors, 1e-17),
    "o-",
    color="tab:purple",
    label="Eq. (9), one entry of $W^B$",
)
ax.loglog(
    steps,
    np.maximum(conv_errors, 1e-17),
    "s-",
    color="tab:gray",
    label="convolution, one weight",
)
ax.loglog(
    steps,
    0.3 * steps**2,
    ":",
    color="black",
    linewidth=1,
    label=r"$\propto \varepsilon^2$ (truncation)",
)
ax.loglog(
    steps,
    1e-16 / steps,
    "--",
    color="black",
    linewidth=1,
    label=r"$\propto 10^{-16}/\varepsilon$ (rounding)",
)
ax.axvline(
    1e-5, color="tab:red", linewidth=1, label=r"$\varepsilon = 10^{-5}$ used below"
)
ax.set_ylim(1e-17, 10)
ax.set_xlabel(r"finite-difference step $\varepsilon$ (from large to small)")
ax.set_ylabel("relative error of the central difference")
ax.set_title(r"Choosing $\varepsilon$ for a gradient check (float64)")
ax.invert_xaxis()
ax.legend()
save(
    fig,
    "05_finite_difference_step.png",
    "Error of (L(a+eps) - L(a-eps)) / 2 eps against the hand-derived gradient. The "
    "convolution is linear in each "
    "weight, so only rounding remains; the nonlinear Eq. (9) adds truncation error for "
    "large steps.",
)

# %% [markdown]
# ## 3. Pointwise and depthwise, the two building blocks
#
# **Pointwise** ($1 \times 1$, Eq. 6, 12, 13): at every pixel, $Y_{:,p,q} = W X_{:,p,q}$ with $W$ of shape
# $N \times M$: a matrix product. Its gradients are those of a matrix product, summed over the pixels:
# $\partial X_{:,p,q} = W^T G_{:,p,q}$ and $\partial W = \sum_{b,p,q} G_{:,p,q} X_{:,p,q}^T$.
#
# **Depthwise** (Eq. 7, 14): channel $c$ is convolved with its own $K \times K$ kernel, so the regular formulas
# hold with $m = n = c$ and no sum over channels: $\partial W_{c,i,j} = \sum_{b,p,q} G_{b,c,p,q}
# X_{b,c,pS+iD,qS+jD}$ and $\partial X$ spreads $G_{b,c}$ back with $W_c$ only.
# `conv_forward(..., depthwise=True)` above already implements it; the pointwise one is two `einsum`s.


# %%
def pointwise_forward(x, w):
    """Eq. (6): Y[b, n] = sum_m W[n, m] X[b, m] at every pixel; w is (N, M, 1, 1)."""
    return np.einsum("nm,bmhw->bnhw", w[:, :, 0, 0], x), (x, w)


def pointwise_backward(g, cache):
    """dX = W^T G per pixel, dW = sum over batch and pixels of G X^T."""
    x, w = cache
    dx = np.einsum("nm,bnhw->bmhw", w[:, :, 0, 0], g)  # B,M,H,W
    dw = np.einsum("bnhw,bmhw->nm", g, x)[:, :, None, None]  # N,M,1,1
    return dx, dw


# %% [markdown]
# ## 4. The chain rule through BSConv-U, BSConv-S and the DSC
#
# Each layer is a chain of these steps, so its backward runs the steps' backwards in reverse order, each
# turning the gradient of its output into the gradients of its input and its weights:
#
# - **BSConv-U**, $X \xrightarrow{W} V' \xrightarrow{B} Y$ (Eq. 6-7): depthwise backward gives $\partial V'$ and
#   $\partial B$; pointwise backward of $\partial V'$ gives $\partial X$ and $\partial W$.
# - **BSConv-S**, $X \xrightarrow{W^B} U' \xrightarrow{W^A} V' \xrightarrow{B} Y$ (Eq. 12-14): three steps back.
#   The orthonormal loss adds its own gradient $\alpha \cdot 2 (W^B W^{B\,T} - I) W^B / L_{\text{ortho}}$ to
#   $\partial W^B$ (lesson 3).
# - **DSC**, $X \xrightarrow{B'} Z \xrightarrow{W} Y$ (Sec. 4.1; $Z$ is the depthwise step's output): pointwise
#   backward first, then depthwise.
#
# We write the three chains with our two building blocks and check every gradient with finite differences and
# against `reference` (with stride 2 and padding 1 on the depthwise step, and a bias on the output).


# %%
def bsconv_u(x, w_pw, w_dw, b):
    v_prime, c1 = pointwise_forward(x, w_pw)  # B,N,H,W
    y, c2 = conv_forward(v_prime, w_dw, b, 2, 1, 1, depthwise=True)  # B,N,Ho,Wo
    return y, (c1, c2)


def bsconv_u_backward(g, cache):
    c1, c2 = cache
    dv_prime, dw_dw, db = conv_backward(g, c2)
    dx, dw_pw = pointwise_backward(dv_prime, c1)
    return dx, dw_pw, dw_dw, db


def bsconv_s(x, w_b, w_a, w_dw, b):
    u_prime, c1 = pointwise_forward(x, w_b)  # B,M',H,W
    v_prime, c2 = pointwise_forward(u_prime, w_a)  # B,N,H,W
    y, c3 = conv_forward(v_prime, w_dw, b, 2, 1, 1, depthwise=True)  # B,N,Ho,Wo
    return y, (c1, c2, c3)


def bsconv_s_backward(g, cache):
    c1, c2, c3 = cache
    dv_prime, dw_dw, db = conv_backward(g, c3)
    du_prime, dw_a = pointwise_backward(dv_prime, c2)
    dx, dw_b = pointwise_backward(du_prime, c1)
    return dx, dw_b, dw_a, dw_dw, db


def dsc(x, w_dw, w_pw, b):
    z, c1 = conv_forward(
        x, w_dw, np.zeros(x.shape[1]), 2, 1, 1, depthwise=True
    )  # B,M,Ho,Wo
    y, c2 = pointwise_forward(z, w_pw)  # B,N,Ho,Wo
    return y + b[None, :, None, None], (c1, c2)


def dsc_backward(g, cache):
    c1, c2 = cache
    dz, dw_pw = pointwise_backward(g, c2)
    dx, dw_dw, _ = conv_backward(dz, c1)
    return dx, dw_dw, dw_pw, g.sum(axis=(0, 2, 3))


M, M_SUB, N = 6, 3, 5
x = rng.standard_normal((2, M, 8, 8))
cases = {
    "BSConv-U": (
        bsconv_u,
        bsconv_u_backward,
        reference.bsconv_u_forward,
        reference.bsconv_u_backward,
        dict(w_pw=(N, M, 1, 1), w_dw=(N, 1, 3, 3), b=(N,)),
    ),
    "BSConv-S": (
        bsconv_s,
        bsconv_s_backward,
        reference.bsconv_s_forward,
        reference.bsconv_s_backward,
        dict(w_b=(M_SUB, M, 1, 1), w_a=(N, M_SUB, 1, 1), w_dw=(N, 1, 3, 3), b=(N,)),
    ),
    "DSC": (
        dsc,
        dsc_backward,
        reference.dsc_forward,
        reference.dsc_backward,
        dict(w_dw=(M, 1, 3, 3), w_pw=(N, M, 1, 1), b=(N,)),
    ),
}
for op, (forward, backward, ref_forward, ref_backward, shapes) in cases.items():
    params = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    y, cache = forward(x, **params)
    g = rng.standard_normal(y.shape)
    grads = backward(g, cache)
    print(f"{op}: y {y.shape}")

    def loss():
        return float(np.sum(forward(x, **params)[0] * g))

    for (name, array), grad in zip([("x", x), *params.items()], grads):
        errors[f"{op}: d{name}"] = check(f"dL/d{name}", loss, array, grad)
    y_ref, cache_ref = ref_forward(x, *params.values(), stride=2, padding=1)
    assert np.allclose(y, y_ref)
    for ours, theirs in zip(grads, ref_backward(g, cache_ref)):
        assert np.allclose(ours, theirs)
    print("  ... and reference agrees")

# %% [markdown]
# ## 5. A second, independent judge: autograd
#
# PyTorch differentiates the same chains automatically. Its BSConv-U gradient, from `F.conv2d` calls, agrees
# with ours.

# %%
params = {
    name: rng.standard_normal(shape) for name, shape in cases["BSConv-U"][4].items()
}
y, cache = bsconv_u(x, **params)
g = rng.standard_normal(y.shape)
ours = bsconv_u_backward(g, cache)
xt, w_pw, w_dw, b = (torch.tensor(a, requires_grad=True) for a in (x, *params.values()))
yt = tF.conv2d(tF.conv2d(xt, w_pw), w_dw, b, stride=2, padding=1, groups=N)
(yt * torch.from_numpy(g)).sum().backward()
for mine, tensor in zip(ours, (xt, w_pw, w_dw, b)):
    assert np.allclose(mine, tensor.grad.numpy())
print("autograd agrees with the hand-derived BSConv-U backward")

# %%
names = list(errors)
fig = figure(1.6 + 0.28 * len(names))
ax = fig.subplots()
values = np.maximum([errors[n] for n in names], 1e-16)
colors = [
    "tab:gray"
    if n.startswith("conv")
    else "tab:blue"
    if n.startswith("BSConv-U")
    else "tab:green"
    if n.startswith("BSConv-S")
    else "tab:orange"
    for n in names
]
ax.barh(range(len(names)), values, color=colors)
ax.axvline(1e-6, color="tab:red", linestyle="--", label="tolerance of the check (1e-6)")
ax.set_xscale("log")
ax.set_xlim(1e-16, 1e-3)
ax.set_yticks(range(len(names)), labels=names)
ax.invert_yaxis()  # the first gradient on top
ax.set_ylabel("operation: gradient")
ax.set_xlabel("worst relative error vs finite differences")
ax.set_title("Every hand-derived gradient against central differences")
ax.legend(loc="lower right")
save(
    fig,
    "05_gradient_checks.png",
    "Each bar: the largest relative difference between the hand-derived gradient and a "
    "central difference "
    "(eps = 1e-5, float64) over sampled entries. All sit near the rounding limit, far "
    "below the tolerance.",
)

# %% [markdown]
# ## What we saw
#
# - A convolution's backward is read off its forward: every product $x \cdot w$ sends the output gradient to
#   both factors. Organized by kernel tap, forward and backward are the same loop.
# - Pointwise is a matrix product per pixel, depthwise a convolution per channel; BSConv-U, BSConv-S and the DSC
#   are chains of them, and their backwards are the chains reversed.
# - Central differences in float64 confirm every gradient to about $10^{-8}$ or better; for ops that are
#   linear in each parameter they are exact up to rounding. `reference` holds these derivations (the chains reversed), `reference.naive` the same gradients derived term by term from the full sums, an independent check; lesson 6 compiles them.
#
# ## Exercises
#
# Write each answer in the cell below its question and run the cell: `check` says whether it is right,
# and if not, why. The solutions are folded away under each question.
#
# **5.1** Write `pointwise_grads(g, x, w)`: $(\partial X, \partial W)$ of a $1 \times 1$ convolution
# $Y = W X$ per pixel, `x` (B, M, H, W), `w` (N, M, 1, 1), `g` (B, N, H, W).
#
# <details><summary>Solution 5.1</summary>
#
# ```python
# def pointwise_grads(g, x, w):
#     dx = np.einsum("nm,bnhw->bmhw", w[:, :, 0, 0], g)
#     dw = np.einsum("bnhw,bmhw->nm", g, x)[:, :, None, None]
#     return dx, dw
# ```
#
# </details>

# %%
from blueprint.course.exercises import check


def pointwise_grads(g, x, w): ...  # your answer


check("5.1", pointwise_grads)

# %% [markdown]
# **5.2** Write the BSConv-S backward, `bsconv_s_grads(g, x, w_b, w_a, w_dw, b, stride, padding,
# dilation)`, returning `(dx, dw_b, dw_a, dw_dw, db)` (`db` is None when `b` is None). You may use
# `reference.conv2d_forward` and `reference.conv2d_backward` for the single steps.
#
# <details><summary>Solution 5.2</summary>
#
# ```python
# def bsconv_s_grads(g, x, w_b, w_a, w_dw, b, stride, padding, dilation):
#     conv = reference.conv2d_forward
#     u_prime, c1 = conv(x, w_b)  # Eq. (12)
#     v_prime, c2 = conv(u_prime, w_a)  # Eq. (13)
#     groups = len(w_dw)  # depthwise: one group per channel
#     _, c3 = conv(v_prime, w_dw, b, stride, padding, dilation, groups)  # Eq. (14)
#     dv_prime, dw_dw, db = reference.conv2d_backward(g, c3)
#     du_prime, dw_a, _ = reference.conv2d_backward(dv_prime, c2)
#     dx, dw_b, _ = reference.conv2d_backward(du_prime, c1)
#     return dx, dw_b, dw_a, dw_dw, db
# ```
#
# </details>


# %%
def bsconv_s_grads(
    g, x, w_b, w_a, w_dw, b, stride, padding, dilation
): ...  # your answer


check("5.2", bsconv_s_grads)

# %% [markdown]
# **5.3** In float64, which step `best_step` minimizes the error of a central difference for a smooth,
# nonlinear loss such as Eq. (9)? Balance the truncation error $\propto \varepsilon^2$ against the rounding
# error $\propto 10^{-16} / \varepsilon$.
#
# <details><summary>Solution 5.3</summary>
#
# ```python
# best_step = 1e-16 ** (1 / 3)  # about 5e-6: where eps^2 = 1e-16 / eps
# ```
#
# </details>

# %%
best_step = None  # your answer
check("5.3", best_step)
