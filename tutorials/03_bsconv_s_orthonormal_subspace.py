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
# *Study time: about 60 minutes. Prerequisites: lesson 2; matrix calculus at the level of
# $d(AB) = dA\,B + A\,dB$ and $\operatorname{tr}(AB) = \operatorname{tr}(BA)$; the paper's Sec. 3.3.2 and 4.2.*
#
# **What you will learn**
#
# - why the weight matrix $W$ of BSConv-U can be factorized once more into a low-rank product
#   $W = W^A W^B$ (Eq. 8), and what that saves;
# - the three-step form of BSConv-S (Eq. 10-11 swap two sums; Eq. 12-14: pointwise into an
#   $M'$-dimensional subspace, pointwise out of it, depthwise), checked against the full kernel and the
#   PyTorch layer;
# - the orthonormal regularization loss $L_{\text{ortho}} = \lVert W^B W^{B\,T} - I \rVert_F$ (Eq. 9), its
#   gradient derived by hand, checked against finite differences and autograd;
# - that asking for an orthonormal basis costs no expressiveness: every $W$ of rank $\le M'$ has a
#   factorization with orthonormal $W^B$;
# - why BSConv-S is MobileNetV2's linear bottleneck shifted by one step, and why $p = 1/6$ (Sec. 4.2).

# %%
import math

import numpy as np
import torch

import blueprint
import reference
from blueprint.course.kit import FAST, one_thread, save
from blueprint.plotting import figure

one_thread()

rng = np.random.default_rng(0)
B_, M, N, H, W_, K = 2, 16, 24, 8, 8, 3
p = 1 / 4
M_SUB = math.ceil(p * M)  # M' = ceil(p M), the subspace size of Eq. (8)
# The PyTorch layer takes M' = min(M, max(4, ceil(p M))): here the same M'.
# The NumPy reference takes W^B as given, so its M' is W^B's number of rows.
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
#
# **Where the layer departs from Eq. (8).** `blueprint.BSConvS` (and `blueprint.subspace_channels`) keep
# at least `min_mid_channels = 4` subspace channels, and at most $M$: $M' = \min(M, \max(4, \lceil pM \rceil))$.
# The floor follows the authors' code (github.com/zeiss-microscopy/BSConv), which keeps narrow layers from a
# subspace of one or two channels; it changes $M'$ only where $\lceil pM \rceil < 4$, e.g. $p = 1/6$ and
# $M = 16$ give 4 where Eq. (8) gives 3.

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
assert (
    math.ceil(16 / 6) == 3 and blueprint.subspace_channels(16, 1 / 6) == 4
)  # the floor, not Eq. (8)
assert blueprint.subspace_channels(16, 1 / 6, min_mid_channels=1) == math.ceil(
    16 / 6
)  # Eq. (8) itself

# %% [markdown]
# ## 2. The three-step form (Eq. 10-14)
#
# Substitute $w_{n,m} = \sum_{m'} w^A_{n,m'} w^B_{m',m}$ into Eq. (5):
#
# $$V_{n,:,:} = \Big(\sum_{m=1}^{M} U_{m,:,:} \sum_{m'=1}^{M'} w^A_{n,m'} w^B_{m',m}\Big) * B^{(n)}. \qquad (10)$$
#
# The one non-trivial step is to swap the two finite sums (each term is a scalar times a feature map, so the
# order of summation does not matter) and to pull $w^A_{n,m'}$, which does not depend on $m$, out of the
# inner sum:
#
# $$V_{n,:,:} = \Big(\sum_{m'=1}^{M'} w^A_{n,m'}
#   \underbrace{\sum_{m=1}^{M} w^B_{m',m}\, U_{m,:,:}}_{U'_{m',:,:}}\Big) * B^{(n)}. \qquad (11)$$
#
# The inner sum is a pointwise convolution with $\tilde w^B_{m'}$ (the $m'$-th row of $W^B$ as an
# $M \times 1 \times 1$ array), the outer one another with $\tilde w^A_n$:
#
# $$U'_{m',:,:} = U * \tilde w^B_{m'} \;(12), \qquad V'_{n,:,:} = U' * \tilde w^A_n \;(13), \qquad
#   V_{n,:,:} = V'_{n,:,:} * B^{(n)} \;(14):$$
#
# project the input onto the $M'$ basis vectors (pointwise), combine the $M'$ projections into $N$ channels
# (pointwise), then convolve each with its blueprint (depthwise). We compare with a regular convolution with the
# full kernel `reference.bsconv_s_kernel` and with BSConv-U using the product $W$.

# %%
x = rng.standard_normal((B_, M, H, W_))  # B,M,H,W
y_s, _ = reference.bsconv_s_forward(x, w_b, w_a, w_dw, padding=1)  # Eq. (12)-(14)
y_full, _ = reference.conv2d_forward(
    x, reference.bsconv_s_kernel(w_b, w_a, w_dw), padding=1
)  # Eq. (1)
y_u, _ = reference.bsconv_u_forward(
    x, w_full[:, :, None, None], w_dw, padding=1
)  # Eq. (6)-(7) with W = W^A W^B
u_prime, _ = reference.conv2d_forward(
    x, w_b
)  # B,M',H,W: Eq. (12), the input in the subspace
print("subspace activation U':", u_prime.shape)
# Eq. (10) and (11) as written, sums in both orders, before the depthwise step
eq10 = np.einsum(
    "bmhw,nm->bnhw", x, np.einsum("nk,km->nm", w_a[:, :, 0, 0], w_b[:, :, 0, 0])
)
eq11 = np.einsum(
    "nk,bkhw->bnhw", w_a[:, :, 0, 0], np.einsum("km,bmhw->bkhw", w_b[:, :, 0, 0], x)
)
assert np.allclose(eq10, eq11) and np.allclose(
    eq11, reference.conv2d_forward(u_prime, w_a)[0]
)
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
# **Gradient.** Write $Q = W^B$ ($M' \times M$; a letter of its own, so that $W$ stays the product of
# Eq. 8), $E = Q Q^T - I$ (symmetric, $M' \times M'$) and $L = \sqrt{\sum_{ij} E_{ij}^2}$.
# A small change $dQ$ changes $E$ by $dE = dQ\,Q^T + Q\,dQ^T$ and $L$ by
#
# $$dL = \frac{1}{L}\sum_{ij} E_{ij}\, dE_{ij} = \frac{1}{L}\operatorname{tr}\!\big(E^T (dQ\,Q^T + Q\,dQ^T)\big)
#      = \frac{2}{L}\operatorname{tr}\!\big(Q^T E\, dQ\big),$$
#
# using the symmetry of $E$ and $\operatorname{tr}(AB) = \operatorname{tr}(BA)$. Reading off the coefficient of
# $dQ$:
#
# $$\frac{\partial L}{\partial Q} = \frac{2\, E\, Q}{L} = \frac{2\,(Q Q^T - I)\, Q}{\lVert Q Q^T - I \rVert_F}.$$
#
# At $L = 0$ (already orthonormal) $L$ has no gradient: along a direction $D$ it grows like
# $|t|\, \lVert D Q^T + Q D^T \rVert_F$ on *both* sides, $t > 0$ and $t < 0$, a kink and not a slope. $L$ is not
# convex either, so "subgradient" is not the right word; the set of its generalized gradients there is
# $\{(G + G^T) Q : \lVert G \rVert_F \le 1\}$, which contains 0, and 0 is what we return: the point is a
# minimum. We implement the formula, check it three ways, then look at the kink.


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
        numeric[i, j] = (
            ortho_loss_and_grad(w + step)[0] - ortho_loss_and_grad(w - step)[0]
        ) / (2 * eps)
print(f"max |hand-derived - finite differences| = {np.abs(grad - numeric).max():.1e}")
assert np.allclose(grad, numeric, rtol=1e-6, atol=1e-8)

wt = torch.from_numpy(w_b).requires_grad_(True)
blueprint.orthonormal_penalty(wt).backward()
assert np.allclose(grad, wt.grad.numpy()[:, :, 0, 0])
loss_model = blueprint.orthonormal_loss(
    layer
)  # the model-level loss sums Eq. (9) over every BSConv-S layer
assert np.isclose(loss_model.item(), loss)
print(f"L_ortho = {loss:.4f} (reference, torch and the hand-written version agree)")

q, _ = np.linalg.qr(rng.standard_normal((M, M_SUB)))  # M,M': orthonormal columns
q = q.T  # M',M: orthonormal rows, L = 0
direction = rng.standard_normal(q.shape)
slope = np.linalg.norm(direction @ q.T + q @ direction.T)
for t in (1e-4, -1e-4):  # the same growth on both sides: no gradient could give it
    assert np.isclose(
        ortho_loss_and_grad(q + t * direction)[0], abs(t) * slope, rtol=1e-3
    )
assert not reference.orthonormal_loss_backward(
    np.eye(M_SUB, M)
).any()  # 0 where L = 0 exactly

# %% [markdown]
# ## 4. Descending on $L_{\text{ortho}}$ alone
#
# Following $-\partial L/\partial W$ from our random $W^B$ drives its Gram matrix $W^B W^{B\,T}$ to the identity:
# the rows become unit vectors, perpendicular to each other. (In training, this pull competes with the
# classification loss; $\alpha$ sets the balance, 0.01-0.1 in the paper.)
#
# One consequence of the norm not being squared: its gradient does not fade near the minimum. Close to an
# orthonormal $Q$, $Q Q^T \approx I$, so $\lVert E Q \rVert_F^2 = \operatorname{tr}(E\, Q Q^T E) \approx
# \lVert E \rVert_F^2$ (a product of an $M' \times M'$ and an $M' \times M$ matrix has no reason to equal
# the first factor; its norm does) and $\lVert \partial L / \partial Q \rVert_F = 2 \lVert E Q \rVert_F /
# \lVert E \rVert_F \to 2$. A constant step size therefore keeps jumping across the minimum at a distance of the order of the
# step; a decaying learning rate, like the schedules of Sec. 5, settles. We run both.

# %%
steps = 150 if FAST else 400
lr = 0.05


def descend(w, decay):
    """Gradient descent on Eq. (9) with a constant or cosine-decayed step; returns the
    loss trace and the result."""
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
print(
    f"L_ortho after {steps} steps: {trace_const[-1]:.2e} (constant step), "
    f"{trace[-1]:.2e} (cosine-decayed step)"
)
print(f"gradient norm at the end: {np.linalg.norm(ortho_loss_and_grad(w_opt)[1]):.3f}")
assert trace[-1] < 1e-3 * trace[0] and trace[-1] < 0.1 * trace_const[-1]
assert abs(np.linalg.norm(ortho_loss_and_grad(w_opt)[1]) - 2) < 0.01
e_opt = w_opt @ w_opt.T - np.eye(M_SUB)  # M',M'
assert np.allclose(
    w_opt @ w_opt.T, np.eye(M_SUB), atol=1e-2
)  # Q Q^T ~ I, hence ||E Q|| ~ ||E||
assert np.isclose(np.linalg.norm(e_opt @ w_opt), np.linalg.norm(e_opt), rtol=1e-2)

fig = figure(7.0)
top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.15])
ax_loss = top.subplots()
ax_before, ax_after = bottom.subplots(1, 2)
ax_loss.semilogy(
    trace_const, color="tab:gray", linewidth=0.8, alpha=0.7, label=f"constant step {lr}"
)
ax_loss.semilogy(
    trace, color="tab:purple", linewidth=1.2, label=f"step {lr}, cosine decay"
)
ax_loss.legend()
ax_loss.set_xlabel("gradient step")
ax_loss.set_ylabel("$L_{ortho}$ (log scale)")
ax_loss.set_title("Eq. (9) during descent")
for ax, gram, title in [
    (ax_before, gram_before, "before: $W^B W^{B\\,T}$"),
    (ax_after, gram_after, "after: $W^B W^{B\\,T}$"),
]:
    image = ax.imshow(gram, cmap="RdBu_r", vmin=-1.2, vmax=1.2)
    ax.set_title(title)
    ax.set_xlabel("basis vector m'")
    ax.set_ylabel("basis vector m'")
    ax.set_xticks(range(M_SUB), labels=[str(i + 1) for i in range(M_SUB)])
    ax.set_yticks(range(M_SUB), labels=[str(i + 1) for i in range(M_SUB)])
bottom.colorbar(image, ax=[ax_before, ax_after], label="inner product of two rows")
fig.suptitle(
    f"The orthonormal loss pulls the {M_SUB} rows of $W^B$ ({M_SUB}x{M})\n"
    "to an orthonormal basis"
)
save(
    fig,
    "03_orthonormal_descent.png",
    "Gradient descent with the hand-derived gradient $2 (Q Q^T - I) Q / L$; the Gram "
    "matrices are from the decayed "
    "run. It goes to the identity: unit rows (diagonal 1), perpendicular to each other "
    "(off-diagonal 0).",
)

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
y_orth, _ = reference.bsconv_s_forward(
    x, w_b_orth[:, :, None, None], w_a_orth[:, :, None, None], w_dw, padding=1
)
assert np.allclose(y_orth, y_s)
print(
    f"L_ortho of the refactorized W^B: {reference.orthonormal_loss(w_b_orth):.1e} (was "
    f"{loss:.3f}); same output"
)
assert reference.orthonormal_loss(w_b_orth) < 1e-12

# %% [markdown]
# ## 6. BSConv-S is a shifted linear bottleneck (Sec. 4.2)
#
# A MobileNetV2 block is pointwise *expansion* ($c \to t c$, with ReLU), depthwise ($t c$ channels, with ReLU)
# and a *linear* pointwise projection ($t c \to c$, no activation): the bottleneck of $c$ channels sits between
# blocks. Read a chain of such blocks one step later: projection of block $i$, expansion of block $i+1$,
# depthwise of block $i+1$. That is BSConv-S with $M = N = tc$: $W^B$ projects into an $M' = c$ dimensional
# subspace, $W^A$ maps back to $N$, the blueprints convolve. The projection must be linear, as
# MobileNetV2 found empirically: in Eq. (11) $U'$ enters a linear combination, and its negative components
# matter as much as its positive ones. The paper adds the orthonormal loss on the projection $W^B$.
#
# With MobileNetV2's expansion factor $t = 6$, $M' = M / 6$, i.e. **$p = 1/6$**, and the BSConv-S layer then has
# exactly the weights of the shifted block (Sec. 5 uses this $p$ "to have exactly the same parameter count as
# the vanilla model"). We check it with `blueprint.profile` for $c = 24$ ($M = 144$), where the floor of
# `min_mid_channels` does not bite.

# %%
import torch.nn as nn

c, t = 24, 6
shifted = nn.Sequential(
    nn.Conv2d(t * c, c, 1, bias=False),  # block i's linear projection
    nn.Conv2d(
        c, t * c, 1, bias=False
    ),  # block i+1's expansion (ReLU after it in MobileNetV2)
    nn.Conv2d(t * c, t * c, K, padding=1, groups=t * c, bias=False),
)  # its depthwise
bsconv_s = blueprint.BSConvS(t * c, t * c, K, padding=1, p=1 / 6, bias=False)
weights = {
    name: blueprint.profile(net, (t * c, 8, 8)).params
    for name, net in [
        ("shifted MobileNetV2 block", shifted),
        ("BSConv-S, p = 1/6", bsconv_s),
    ]
}
print(weights)
assert bsconv_s.pw1.out_channels == c and len(set(weights.values())) == 1

# %% [markdown]
# The two differ in what sits between the steps: MobileNetV2 applies BatchNorm and ReLU after the expansion
# (between $W^A$ and the blueprints), while BSConv-S as derived has nothing there (lesson 2, section 4), and
# the projection $W^B$ is linear in both.

# %% [markdown]
# ## What we saw
#
# - BSConv-S stores $W = W^A W^B$ of rank $M'$ and computes in three steps (Eq. 12-14), derived by swapping
#   two sums (Eq. 10-11); it equals a regular convolution with the kernel $F^{(n)}_m = (W^A W^B)_{n,m} B^{(n)}$.
# - Eq. (9)'s gradient is $2 (Q Q^T - I) Q / L$; finite differences and autograd agree with it. At $L = 0$ there
#   is a kink, and 0 is returned. With a constant step, descent keeps jumping around the minimum; a decaying
#   step settles.
# - BSConv-S is MobileNetV2's linear bottleneck shifted by one step; $p = 1/6$ matches its parameters.
#   The layer keeps at least 4 subspace channels, a departure from Eq. (8) for narrow layers.
#
# ## Exercises
#
# Write each answer in the cell below its question and run the cell: `check` says whether it is right,
# and if not, why. The solutions are folded away under each question.
#
# **3.1** Write `ortho_grad(w)`: $\partial L_{\text{ortho}} / \partial W^B$ for an $(M', M)$ matrix, 0 where
# $L = 0$.
#
# <details><summary>Solution 3.1</summary>
#
# ```python
# def ortho_grad(w):
#     e = w @ w.T - np.eye(len(w))  # M',M'
#     loss = np.linalg.norm(e)
#     return 2 * e @ w / loss if loss > 0 else np.zeros_like(w)
# ```
#
# </details>

# %%
from blueprint.course.exercises import check


def ortho_grad(w): ...  # your answer


check("3.1", ortho_grad)

# %% [markdown]
# **3.2** Eq. (8) with $p = 1/6$ and $M = 16$: how many subspace channels `m_sub_eq8` has the paper's layer?
#
# <details><summary>Solution 3.2</summary>
#
# ```python
# m_sub_eq8 = math.ceil(16 / 6)  # 3; blueprint.subspace_channels(16, 1 / 6) gives 4
# ```
#
# </details>

# %%
m_sub_eq8 = None  # your answer
check("3.2", m_sub_eq8)

# %% [markdown]
# **3.3** Write `orthonormal_refactor(w, m_sub)`: for an $N \times M$ matrix $W$ of rank at most $M'$, return
# `(w_a, w_b)` with $W^A W^B = W$ and orthonormal rows in $W^B$ (section 5).
#
# <details><summary>Solution 3.3</summary>
#
# ```python
# def orthonormal_refactor(w, m_sub):
#     u, s, vt = np.linalg.svd(w, full_matrices=False)
#     return u[:, :m_sub] * s[:m_sub], vt[:m_sub]
# ```
#
# </details>


# %%
def orthonormal_refactor(w, m_sub): ...  # your answer


check("3.3", orthonormal_refactor)
