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
# # Lesson 3: BSConv-S and the orthonormal subspace (Eq. 8-14)
#
# *Run time: about 15 s on a shared 2-core CPU, 6 s of it on the processor (measured by `./run.sh docs`, full mode).*
#
# **What you will learn**
#
# - why the weight matrix $W$ of BSConv-U can be factorized once more into a low-rank product
#   $W = W^A W^B$ (Eq. 8), and what that saves;
# - the three-step form of BSConv-S (Eq. 12-14: pointwise into an $M'$-dimensional subspace, pointwise out
#   of it, depthwise), checked numerically against the full kernel and the PyTorch layer;
# - the orthonormal regularization loss $L_{\text{ortho}} = \lVert W^B W^{B\,T} - I \rVert_F$ (Eq. 9), its
#   gradient derived by hand, checked against finite differences and autograd;
# - that asking for an orthonormal basis costs no expressiveness: every $W$ of rank $\le M'$ has a
#   factorization with orthonormal $W^B$.

# %%
import math

import numpy as np
import torch
from matplotlib.figure import Figure

import blueprint
import reference
from lesson_kit import FAST, save

rng = np.random.default_rng(0)
B_, M, N, H, W_, K = 2, 16, 24, 8, 8, 3
p = 1 / 4
M_SUB = math.ceil(p * M)  # M' = ceil(p M), the subspace size of Eq. (8)
# The layer uses the same M' (it also keeps at least 4 channels, min_mid_channels, as the reference does).
assert blueprint.subspace_channels(M, p) == M_SUB

# %% [markdown]
# ## 1. A low-rank weight matrix (Eq. 8)
#
# In networks trained with BSConv-U the rows of $W$ (one per filter) are often highly correlated, so $W$ is
# close to a matrix of lower rank. BSConv-S makes that a property of the layer:
#
# $$W = W^A \cdot W^B, \qquad W^A \in \mathbb{R}^{N \times M'},\; W^B \in \mathbb{R}^{M' \times M},
#   \qquad M' = \lceil p \cdot M \rceil. \qquad (8)$$
#
# The $M'$ rows of $W^B$ are basis vectors of a subspace of the $M$ input channels; $W^A$ expresses each
# filter's weights in that basis. Parameters: $N M' + M' M$ instead of $N M$.

# %%
w_b = rng.standard_normal((M_SUB, M, 1, 1)) / np.sqrt(M)  # W^B: M',M,1,1
w_a = rng.standard_normal((N, M_SUB, 1, 1))  # W^A: N,M',1,1
w_dw = rng.standard_normal((N, 1, K, K))  # blueprints: N,1,K,K
w_full = w_a[:, :, 0, 0] @ w_b[:, :, 0, 0]  # N,M: Eq. (8)
singular_values = np.linalg.svd(w_full, compute_uv=False)
rank = int(np.sum(singular_values > 1e-10 * singular_values[0]))
print(f"W is {N}x{M} but has rank {rank} = M' = ceil({p} * {M})")
print(f"weights: BSConv-U {N * M}, BSConv-S {N * M_SUB + M_SUB * M}")
assert rank == M_SUB

# %% [markdown]
# ## 2. The three-step form (Eq. 10-14)
#
# Substituting $w_{n,m} = \sum_{m'} w^A_{n,m'} w^B_{m',m}$ into Eq. (5) and regrouping the sums gives
#
# $$U'_{m'} = U * \tilde w^B_{m'} \;(12), \qquad V'_n = U' * \tilde w^A_n \;(13), \qquad
#   V_n = V'_n * B^{(n)} \;(14):$$
#
# project the input onto the $M'$ basis vectors (pointwise), combine the $M'$ projections into $N$ channels
# (pointwise), then convolve each with its blueprint (depthwise). We compare with a regular convolution with the
# full kernel `reference.bsconv_s_kernel` and with BSConv-U using the product $W$.

# %%
x = rng.standard_normal((B_, M, H, W_))  # B,M,H,W
y_s, _ = reference.bsconv_s_forward(x, w_b, w_a, w_dw, padding=1)  # Eq. (12)-(14)
y_full, _ = reference.conv2d_forward(x, reference.bsconv_s_kernel(w_b, w_a, w_dw), padding=1)  # Eq. (1)
y_u, _ = reference.bsconv_u_forward(x, w_full[:, :, None, None], w_dw, padding=1)  # Eq. (6)-(7) with W = W^A W^B
u_prime, _ = reference.conv2d_forward(x, w_b)  # B,M',H,W: Eq. (12), the input in the subspace
print("subspace activation U':", u_prime.shape)
assert np.allclose(y_s, y_full) and np.allclose(y_s, y_u)

layer = blueprint.BSConvS(M, N, K, padding=1, p=p, bias=False).double()
with torch.no_grad():
    layer.pw1.weight.copy_(torch.from_numpy(w_b))
    layer.pw2.weight.copy_(torch.from_numpy(w_a))
    layer.dw.weight.copy_(torch.from_numpy(w_dw))
    assert torch.allclose(layer(torch.from_numpy(x)), torch.from_numpy(y_s), atol=1e-12)
print(layer)

# %% [markdown]
# ## 3. The orthonormal loss and its gradient, by hand (Eq. 9)
#
# To keep the $M'$ basis vectors free of redundancy, the paper asks for orthonormal rows of $W^B$ with
#
# $$L_{\text{ortho}} = \lVert W^B W^{B\,T} - I \rVert_F, \qquad (9)$$
#
# added to the classification loss with a weight $\alpha$: $L = L_{\text{class}} + \alpha L_{\text{ortho}}$.
# Note that the norm is not squared.
#
# **Gradient.** Write $W = W^B$ ($M' \times M$), $E = W W^T - I$ (symmetric) and $L = \sqrt{\sum_{ij} E_{ij}^2}$.
# A small change $dW$ changes $E$ by $dE = dW\,W^T + W\,dW^T$ and $L$ by
#
# $$dL = \frac{1}{L}\sum_{ij} E_{ij}\, dE_{ij} = \frac{1}{L}\operatorname{tr}\!\big(E^T (dW\,W^T + W\,dW^T)\big)
#      = \frac{2}{L}\operatorname{tr}\!\big(W^T E\, dW\big),$$
#
# using the symmetry of $E$ and $\operatorname{tr}(AB) = \operatorname{tr}(BA)$. Reading off the coefficient of
# $dW$:
#
# $$\frac{\partial L}{\partial W} = \frac{2\, E\, W}{L} = \frac{2\,(W W^T - I)\, W}{\lVert W W^T - I \rVert_F}.$$
#
# At $L = 0$ (already orthonormal) the norm is not differentiable; 0 is the natural choice there (it is
# a minimum). We implement the formula, then check it three ways.

# %%
def ortho_loss_and_grad(w):
    """Eq. (9) and its gradient 2 E W / L for W^B given as an (M', M) matrix."""
    e = w @ w.T - np.eye(w.shape[0])  # M',M'
    loss = np.sqrt(np.sum(e * e))
    return loss, (2 * e @ w / loss if loss > 0 else np.zeros_like(w))


w = w_b[:, :, 0, 0].copy()  # M',M
loss, grad = ortho_loss_and_grad(w)
assert np.isclose(loss, reference.orthonormal_loss(w_b))
assert np.allclose(grad, reference.orthonormal_loss_backward(w_b)[:, :, 0, 0])

eps = 1e-6
numeric = np.zeros_like(w)
for i in range(w.shape[0]):
    for j in range(w.shape[1]):
        step = np.zeros_like(w)
        step[i, j] = eps
        numeric[i, j] = (ortho_loss_and_grad(w + step)[0] - ortho_loss_and_grad(w - step)[0]) / (2 * eps)
print(f"max |hand-derived - finite differences| = {np.abs(grad - numeric).max():.1e}")
assert np.allclose(grad, numeric, rtol=1e-6, atol=1e-8)

wt = torch.from_numpy(w_b).requires_grad_(True)
blueprint.orthonormal_penalty(wt).backward()
assert np.allclose(grad, wt.grad.numpy()[:, :, 0, 0])
loss_model = blueprint.orthonormal_loss(layer)  # the model-level loss sums Eq. (9) over every BSConv-S layer
assert np.isclose(loss_model.item(), loss)
print(f"L_ortho = {loss:.4f} (reference, torch and the hand-written version agree)")

# %% [markdown]
# ## 4. Descending on $L_{\text{ortho}}$ alone
#
# Following $-\partial L/\partial W$ from our random $W^B$ drives its Gram matrix $W^B W^{B\,T}$ to the identity:
# the rows become unit vectors, perpendicular to each other. (In training, this pull competes with the
# classification loss; $\alpha$ sets the balance, 0.01-0.1 in the paper.)
#
# One consequence of the norm not being squared: its gradient does not fade near the minimum. Close to an
# orthonormal $W$, $E W \approx E$, so $\lVert \partial L / \partial W \rVert_F = 2 \lVert E W \rVert_F / \lVert E \rVert_F
# \to 2$. A constant step size therefore keeps jumping across the minimum at a distance of the order of the
# step; a decaying learning rate, like the schedules of Sec. 5, settles. We run both.

# %%
steps = 150 if FAST else 400
lr = 0.05


def descend(w, decay):
    """Gradient descent on Eq. (9) with a constant or cosine-decayed step; returns the loss trace and the result."""
    w = w.copy()
    trace = [ortho_loss_and_grad(w)[0]]
    for t in range(steps):
        rate = lr * 0.5 * (1 + np.cos(np.pi * t / steps)) if decay else lr
        w -= rate * ortho_loss_and_grad(w)[1]
        trace.append(ortho_loss_and_grad(w)[0])
    return trace, w


trace_const, _ = descend(w, decay=False)
trace, w_opt = descend(w, decay=True)
gram_before, gram_after = w @ w.T, w_opt @ w_opt.T
print(f"L_ortho after {steps} steps: {trace_const[-1]:.2e} (constant step), {trace[-1]:.2e} (cosine-decayed step)")
print(f"gradient norm at the end: {np.linalg.norm(ortho_loss_and_grad(w_opt)[1]):.3f}")
assert trace[-1] < 1e-3 * trace[0] and trace[-1] < 0.1 * trace_const[-1]
assert abs(np.linalg.norm(ortho_loss_and_grad(w_opt)[1]) - 2) < 0.01

fig = Figure(figsize=(12, 3.8), layout="constrained")
ax_loss, ax_before, ax_after = fig.subplots(1, 3, width_ratios=[1.4, 1, 1])
ax_loss.semilogy(trace_const, color="tab:gray", linewidth=0.8, alpha=0.7, label=f"constant step {lr}")
ax_loss.semilogy(trace, color="tab:purple", linewidth=1.2, label=f"step {lr}, cosine decay")
ax_loss.legend()
ax_loss.set_xlabel("gradient step")
ax_loss.set_ylabel("$L_{ortho}$ (log scale)")
ax_loss.set_title("Eq. (9) during descent")
for ax, gram, title in [(ax_before, gram_before, "before: $W^B W^{B\\,T}$"), (ax_after, gram_after, "after: $W^B W^{B\\,T}$")]:
    image = ax.imshow(gram, cmap="RdBu_r", vmin=-1.2, vmax=1.2)
    ax.set_title(title)
    ax.set_xlabel("basis vector m'")
    ax.set_ylabel("basis vector m'")
    ax.set_xticks(range(M_SUB), labels=[str(i + 1) for i in range(M_SUB)])
    ax.set_yticks(range(M_SUB), labels=[str(i + 1) for i in range(M_SUB)])
fig.colorbar(image, ax=[ax_before, ax_after], label="inner product of two rows of $W^B$")
fig.suptitle(f"Lesson 3: the orthonormal loss pulls the {M_SUB} rows of $W^B$ ({M_SUB}x{M}) to an orthonormal basis",
             fontsize=12)
save(fig, "03_orthonormal_descent.png",
     "Gradient descent with the hand-derived gradient 2 (W W^T - I) W / L; the Gram matrices are from the decayed "
     "run. It goes to the identity: unit rows (diagonal 1), perpendicular to each other (off-diagonal 0).")

# %% [markdown]
# ## 5. Orthonormality costs no expressiveness
#
# Does the constraint limit which layers BSConv-S can represent? No: any $W$ of rank $\le M'$ can be
# refactorized with orthonormal rows in $W^B$. Take the SVD $W = U \Sigma V^T$ and keep the $M'$ leading
# components: $W^B = V_{:M'}^T$ (orthonormal rows) and $W^A = U_{:, :M'} \Sigma_{:M'}$. The product, and thus
# the layer's output, is unchanged, while $L_{\text{ortho}}$ drops to 0. What the loss does in training is pick,
# among all factorizations of the same $W$, the well-conditioned one, and keep $W^B$ from collapsing its
# basis vectors onto each other.

# %%
u, s, vt = np.linalg.svd(w_full, full_matrices=False)
w_b_orth = vt[:M_SUB]  # M',M
w_a_orth = u[:, :M_SUB] * s[:M_SUB]  # N,M'
assert np.allclose(w_a_orth @ w_b_orth, w_full)
y_orth, _ = reference.bsconv_s_forward(x, w_b_orth[:, :, None, None], w_a_orth[:, :, None, None], w_dw, padding=1)
assert np.allclose(y_orth, y_s)
print(f"L_ortho of the refactorized W^B: {reference.orthonormal_loss(w_b_orth):.1e} (was {loss:.3f}); same output")
assert reference.orthonormal_loss(w_b_orth) < 1e-12

# %% [markdown]
# ## What we saw
#
# - BSConv-S stores $W = W^A W^B$ of rank $M'$ and computes in three steps (Eq. 12-14); it equals a regular
#   convolution with the kernel $F^{(n)}_m = (W^A W^B)_{n,m} B^{(n)}$.
# - Eq. (9)'s gradient is $2 (W W^T - I) W / L$; finite differences and autograd agree with it.
# - Sec. 4.2 reads MobileNetV2's linear bottleneck as this layer shifted by one step; lesson 7 trains with the
#   loss switched on.
