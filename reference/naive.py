"""The specification: every op as plain loops that read like the paper's equations.

Slow on purpose. The tests hold the vectorized ops in ``reference`` (and ``accel``) to these on tiny
shapes. Same signatures, caches and return values as the vectorized versions.
"""
from __future__ import annotations

import numpy as np

from reference import checks
from reference.conv2d import ConvShapes, pad_spatial
from reference.separable import separable_ops


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Eq. (1): y[b, n, p, q] = b[n] + sum_{m, i, j} x_pad[b, g M_g + m, p S + i D, q S + j D] w[n, m, i, j]."""
    geometry, groups = checks.check_conv2d(x, w, b, stride, padding, dilation, groups)
    stride, padding, dilation, out_hw = geometry
    geo = ConvShapes(x.shape, w.shape, stride, padding, dilation, groups, out_hw)
    x_pad = pad_spatial(x, padding)
    batch, n_out, m_g, kh, kw = x.shape[0], w.shape[0], w.shape[1], w.shape[2], w.shape[3]
    n_g = n_out // groups
    y = np.zeros((batch, n_out, *out_hw), dtype=x.dtype)
    for bi in range(batch):
        for n in range(n_out):
            g = n // n_g
            for p in range(out_hw[0]):
                for q in range(out_hw[1]):
                    acc = 0.0
                    for m in range(m_g):
                        for i in range(kh):
                            for j in range(kw):
                                row = p * stride[0] + i * dilation[0]
                                col = q * stride[1] + j * dilation[1]
                                acc += x_pad[bi, g * m_g + m, row, col] * w[n, m, i, j]
                    y[bi, n, p, q] = acc + (b[n] if b is not None else 0.0)
    return y, (x_pad, w, b is not None, geo)


def conv2d_backward(dy, cache):
    """Every product x_pad[..] w[n, m, i, j] of the forward sends dy[b, n, p, q] back to both factors."""
    x_pad, w, has_bias, geo = cache
    batch, n_out, m_g, kh, kw = geo.x_shape[0], w.shape[0], w.shape[1], w.shape[2], w.shape[3]
    checks.check_grad("dy", dy, (batch, n_out, *geo.out_hw), w.dtype)
    n_g = n_out // geo.groups
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for bi in range(batch):
        for n in range(n_out):
            g = n // n_g
            for p in range(geo.out_hw[0]):
                for q in range(geo.out_hw[1]):
                    for m in range(m_g):
                        for i in range(kh):
                            for j in range(kw):
                                row = p * geo.stride[0] + i * geo.dilation[0]
                                col = q * geo.stride[1] + j * geo.dilation[1]
                                dx_pad[bi, g * m_g + m, row, col] += w[n, m, i, j] * dy[bi, n, p, q]
                                dw[n, m, i, j] += x_pad[bi, g * m_g + m, row, col] * dy[bi, n, p, q]
    (ph, pw), (h, wd) = geo.padding, geo.x_shape[2:]
    dx = dx_pad[:, :, ph : ph + h, pw : pw + wd]
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None
    return np.ascontiguousarray(dx), dw, db


_ops = separable_ops(conv2d_forward, conv2d_backward)
dsc_forward, dsc_backward = _ops.dsc_forward, _ops.dsc_backward
bsconv_u_forward, bsconv_u_backward = _ops.bsconv_u_forward, _ops.bsconv_u_backward
bsconv_s_forward, bsconv_s_backward = _ops.bsconv_s_forward, _ops.bsconv_s_backward


def bsconv_u_kernel(w_pw, w_dw):
    """Eq. (2), entry by entry: F[n, m] = w_{n,m} B^(n)."""
    checks.bsconv_u_weights(w_pw, w_dw)
    n_out, m_in = w_pw.shape[:2]
    f = np.zeros((n_out, m_in, *w_dw.shape[2:]), dtype=w_pw.dtype)
    for n in range(n_out):
        for m in range(m_in):
            f[n, m] = w_pw[n, m, 0, 0] * w_dw[n, 0]
    return f


def bsconv_s_kernel(w_b, w_a, w_dw):
    """Eq. (8), w_{n,m} = sum_{m'} w^A_{n,m'} w^B_{m',m}, then Eq. (2)."""
    checks.bsconv_s_weights(w_b, w_a, w_dw)
    n_out, m_sub, m_in = w_a.shape[0], w_b.shape[0], w_b.shape[1]
    w = np.zeros((n_out, m_in, 1, 1), dtype=w_b.dtype)
    for n in range(n_out):
        for m in range(m_in):
            for k in range(m_sub):
                w[n, m, 0, 0] += w_a[n, k, 0, 0] * w_b[k, m, 0, 0]
    return bsconv_u_kernel(w, w_dw)


def dsc_kernel(w_dw, w_pw):
    """Sec. 4.1, entry by entry: F[n, m] = w_{n,m} B'_m."""
    checks.dsc_weights(w_dw, w_pw)
    n_out, m_in = w_pw.shape[:2]
    f = np.zeros((n_out, m_in, *w_dw.shape[2:]), dtype=w_pw.dtype)
    for n in range(n_out):
        for m in range(m_in):
            f[n, m] = w_pw[n, m, 0, 0] * w_dw[m, 0]
    return f


def orthonormal_loss(w_b) -> float:
    """Eq. (9) as sums: sqrt(sum_{i,j} (sum_m w_im w_jm - [i == j])^2)."""
    w = checks.check_w_b(w_b)
    w = w.reshape(w.shape[0], w.shape[1])
    total = 0.0
    for i in range(w.shape[0]):
        for j in range(w.shape[0]):
            e = sum(w[i, m] * w[j, m] for m in range(w.shape[1])) - (1.0 if i == j else 0.0)
            total += e * e
    return float(np.sqrt(total))


def orthonormal_loss_backward(w_b):
    """dL/dw_{k,m} = (2 / L) sum_j E_kj w_jm, entry by entry; 0 at L = 0."""
    w = checks.check_w_b(w_b)
    w = w.reshape(w.shape[0], w.shape[1])
    rows, cols = w.shape
    e = np.array([[w[i] @ w[j] - (1.0 if i == j else 0.0) for j in range(rows)] for i in range(rows)])
    loss = np.sqrt(np.sum(e * e))
    grad = np.zeros_like(w)
    if loss == 0.0:
        return grad.reshape(w_b.shape)
    for k in range(rows):
        for m in range(cols):
            grad[k, m] = 2.0 * sum(e[k, j] * w[j, m] for j in range(rows)) / loss
    return grad.reshape(w_b.shape)


def pc1_explained_variance(w):
    """PCA by the book, per filter: eigenvalues of the slices' covariance; PC1's share of their sum."""
    checks.float_array("w", w, 4)
    n_out, m_in = w.shape[:2]
    out = np.zeros(n_out, dtype=w.dtype)
    for n in range(n_out):
        samples = w[n].reshape(m_in, -1)  # M samples of K*K values
        centered = samples - samples.mean(axis=0)
        eigenvalues = np.linalg.eigvalsh(centered.T @ centered)  # ascending
        total = eigenvalues.sum()
        out[n] = eigenvalues[-1] / total if total > 0 else 1.0
    return out


def blueprint_factorize(w):
    """Per filter: the blueprint is the top eigenvector of S^T S (S the slices), the weights S B."""
    checks.float_array("w", w, 4)
    n_out, m_in, kh, kw = w.shape
    w_pw = np.zeros((n_out, m_in, 1, 1), dtype=w.dtype)
    w_dw = np.zeros((n_out, 1, kh, kw), dtype=w.dtype)
    rel_err = np.zeros(n_out, dtype=w.dtype)
    for n in range(n_out):
        s = w[n].reshape(m_in, -1)
        _, vectors = np.linalg.eigh(s.T @ s)
        blueprint = vectors[:, -1]
        if blueprint[np.argmax(np.abs(blueprint))] < 0:
            blueprint = -blueprint
        weights = s @ blueprint
        norm = np.linalg.norm(s)
        rel_err[n] = np.linalg.norm(s - np.outer(weights, blueprint)) / norm if norm > 0 else 0.0
        w_pw[n, :, 0, 0] = weights
        w_dw[n, 0] = blueprint.reshape(kh, kw)
    return w_pw, w_dw, rel_err
