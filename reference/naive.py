"""The specification: every op as plain loops over the terms of the paper's equations.

Slow on purpose, and independent of the vectorized code: BSConv-U is the sum of Eq. (4), BSConv-S that
of Eq. (10)-(11), DSC that of Sec. 4.1, each written out term by term over the full kernel's factors
(never as a chain of pointwise and depthwise steps), and each backward sends every term's dy to each
of its factors (the product rule, derived by hand). The tests hold the vectorized ops in ``reference``
(and ``accel``) to these on tiny shapes. Same signatures and return values as the vectorized versions.
"""

from __future__ import annotations

import itertools

import numpy as np

from reference import checks
from reference.conv2d import ConvShapes, pad_spatial


def _terms(geo: ConvShapes, n_out: int, m_g: int):
    """Every term of a convolution sum: ``(bi, n, p, q, m, i, j, row, col)`` with row = p S + i D, col = q S + j D.

    Output pixel (p, q) of channel n reads the padded input at (row, col) through tap (i, j) of input
    channel m (m counts within the group of n, 0 <= m < m_g).
    """
    (sh, sw), (dh, dw), (kh, kw) = geo.stride, geo.dilation, geo.w_shape[2:]
    ranges = (geo.x_shape[0], n_out, *geo.out_hw, m_g, kh, kw)
    for bi, n, p, q, m, i, j in itertools.product(*map(range, ranges)):
        yield bi, n, p, q, m, i, j, p * sh + i * dh, q * sw + j * dw


def _start(x, w_shape, b, stride, padding, dilation, groups, out_hw, n_out):
    """The padded input, the geometry, and y filled with the bias (zeros without one)."""
    geo = ConvShapes(x.shape, w_shape, stride, padding, dilation, groups, out_hw)
    y = np.zeros((x.shape[0], n_out, *out_hw), dtype=x.dtype)
    if b is not None:
        y[:] = b[None, :, None, None]
    return pad_spatial(x, padding), geo, y


def _gradients(dy, cache, n_out):
    """Check dy against the forward; return zero dx_pad, zero gradients like each weight, and db."""
    x_pad, weights, has_bias, geo = cache
    checks.check_grad("dy", dy, (geo.x_shape[0], n_out, *geo.out_hw), x_pad.dtype)
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None  # y = b[n] + ...: every output pixel of n adds dy once
    return np.zeros_like(x_pad), [np.zeros_like(w) for w in weights], db


def _unpad(dx_pad, geo):
    (ph, pw), (h, wd) = geo.padding, geo.x_shape[2:]
    return np.ascontiguousarray(dx_pad[:, :, ph : ph + h, pw : pw + wd])


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Eq. (1): y[bi, n, p, q] = b[n] + sum_{m, i, j} x_pad[bi, g M_g + m, p S + i D, q S + j D] w[n, m, i, j]."""
    (stride, padding, dilation, out_hw), groups = checks.check_conv2d(x, w, b, stride, padding, dilation, groups)
    x_pad, geo, y = _start(x, w.shape, b, stride, padding, dilation, groups, out_hw, w.shape[0])
    n_g, m_g = w.shape[0] // groups, w.shape[1]
    for bi, n, p, q, m, i, j, row, col in _terms(geo, w.shape[0], m_g):
        y[bi, n, p, q] += x_pad[bi, (n // n_g) * m_g + m, row, col] * w[n, m, i, j]
    return y, (x_pad, (w,), b is not None, geo)


def conv2d_backward(dy, cache):
    """Every product x_pad[..] w[n, m, i, j] of the forward sends dy[bi, n, p, q] back to both factors.

    Returns ``(dx, dw, db)``.
    """
    checks.check_cache("conv2d", cache, 4, 1)
    x_pad, (w,), _, geo = cache
    dx_pad, (dw,), db = _gradients(dy, cache, w.shape[0])
    n_g, m_g = w.shape[0] // geo.groups, w.shape[1]
    for bi, n, p, q, m, i, j, row, col in _terms(geo, w.shape[0], m_g):
        g, c = dy[bi, n, p, q], (n // n_g) * m_g + m
        dx_pad[bi, c, row, col] += g * w[n, m, i, j]
        dw[n, m, i, j] += g * x_pad[bi, c, row, col]
    return _unpad(dx_pad, geo), dw, db


def bsconv_u_forward(x, w_pw, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (4), term by term: `V_n = sum_m U_m * (w_{n,m} B^(n))`.

    `y[bi, n, p, q] = b[n] + sum_{m, i, j} x_pad[bi, m, p S + i D, q S + j D] w_{n,m} B^(n)[i, j]`; Eq. (5)
    groups the same sum as `(sum_m U_m w_{n,m}) * B^(n)`. w_pw is `W` (N, M, 1, 1), w_dw the blueprints
    (N, 1, K, K). Returns ``(y, cache)``.
    """
    stride, padding, dilation, out_hw = checks.check_bsconv_u(x, w_pw, w_dw, b, stride, padding, dilation)
    n_out = w_pw.shape[0]
    x_pad, geo, y = _start(x, w_dw.shape, b, stride, padding, dilation, 1, out_hw, n_out)
    for bi, n, p, q, m, i, j, row, col in _terms(geo, n_out, x.shape[1]):
        y[bi, n, p, q] += x_pad[bi, m, row, col] * w_pw[n, m, 0, 0] * w_dw[n, 0, i, j]
    return y, (x_pad, (w_pw, w_dw), b is not None, geo)


def bsconv_u_backward(dy, cache):
    """Each term `x w_{n,m} B^(n)[i, j]` of Eq. (4) sends dy[bi, n, p, q] times the other two factors to each factor.

    Returns ``(dx, dw_pw, dw_dw, db)``.
    """
    checks.check_cache("bsconv_u", cache, 4, 2)
    x_pad, (w_pw, w_dw), _, geo = cache
    dx_pad, (dw_pw, dw_dw), db = _gradients(dy, cache, w_pw.shape[0])
    for bi, n, p, q, m, i, j, row, col in _terms(geo, w_pw.shape[0], w_pw.shape[1]):
        g, u = dy[bi, n, p, q], x_pad[bi, m, row, col]
        dx_pad[bi, m, row, col] += g * w_pw[n, m, 0, 0] * w_dw[n, 0, i, j]
        dw_pw[n, m, 0, 0] += g * u * w_dw[n, 0, i, j]
        dw_dw[n, 0, i, j] += g * u * w_pw[n, m, 0, 0]
    return _unpad(dx_pad, geo), dw_pw, dw_dw, db


def bsconv_s_forward(x, w_b, w_a, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (10)-(11), term by term: `V_n = (sum_m U_m sum_{m'} w^A_{n,m'} w^B_{m',m}) * B^(n)`.

    `y[bi, n, p, q] = b[n] + sum_{m, m', i, j} x_pad[bi, m, p S + i D, q S + j D] w^A_{n,m'} w^B_{m',m} B^(n)[i, j]`.
    w_b is `W^B` (M', M, 1, 1), w_a is `W^A` (N, M', 1, 1), w_dw the blueprints (N, 1, K, K). Returns ``(y, cache)``.
    """
    stride, padding, dilation, out_hw = checks.check_bsconv_s(x, w_b, w_a, w_dw, b, stride, padding, dilation)
    n_out, m_sub = w_a.shape[:2]
    x_pad, geo, y = _start(x, w_dw.shape, b, stride, padding, dilation, 1, out_hw, n_out)
    for bi, n, p, q, m, i, j, row, col in _terms(geo, n_out, x.shape[1]):
        for k in range(m_sub):
            y[bi, n, p, q] += x_pad[bi, m, row, col] * w_a[n, k, 0, 0] * w_b[k, m, 0, 0] * w_dw[n, 0, i, j]
    return y, (x_pad, (w_b, w_a, w_dw), b is not None, geo)


def bsconv_s_backward(dy, cache):
    """Each term `x w^A_{n,m'} w^B_{m',m} B^(n)[i, j]` of Eq. (10) sends dy times the other three factors to each.

    Returns ``(dx, dw_b, dw_a, dw_dw, db)``.
    """
    checks.check_cache("bsconv_s", cache, 4, 3)
    x_pad, (w_b, w_a, w_dw), _, geo = cache
    dx_pad, (dw_b, dw_a, dw_dw), db = _gradients(dy, cache, w_a.shape[0])
    for bi, n, p, q, m, i, j, row, col in _terms(geo, w_a.shape[0], w_b.shape[1]):
        g, u = dy[bi, n, p, q], x_pad[bi, m, row, col]
        for k in range(w_b.shape[0]):
            a, wb, bp = w_a[n, k, 0, 0], w_b[k, m, 0, 0], w_dw[n, 0, i, j]
            dx_pad[bi, m, row, col] += g * a * wb * bp
            dw_b[k, m, 0, 0] += g * u * a * bp
            dw_a[n, k, 0, 0] += g * u * wb * bp
            dw_dw[n, 0, i, j] += g * u * a * wb
    return _unpad(dx_pad, geo), dw_b, dw_a, dw_dw, db


def dsc_forward(x, w_dw, w_pw, b=None, stride=1, padding=0, dilation=1):
    """Sec. 4.1, term by term: V_n = sum_m U_m * (w_{n,m} B'_m), one 3-D blueprint B' shared by every filter.

    y[bi, n, p, q] = b[n] + sum_{m, i, j} x_pad[bi, m, p S + i D, q S + j D] w_{n,m} B'_m[i, j]. w_dw is B'
    (M, 1, K, K), w_pw is W (N, M, 1, 1). Returns ``(y, cache)``.
    """
    stride, padding, dilation, out_hw = checks.check_dsc(x, w_dw, w_pw, b, stride, padding, dilation)
    n_out = w_pw.shape[0]
    x_pad, geo, y = _start(x, w_dw.shape, b, stride, padding, dilation, 1, out_hw, n_out)
    for bi, n, p, q, m, i, j, row, col in _terms(geo, n_out, x.shape[1]):
        y[bi, n, p, q] += x_pad[bi, m, row, col] * w_pw[n, m, 0, 0] * w_dw[m, 0, i, j]
    return y, (x_pad, (w_dw, w_pw), b is not None, geo)


def dsc_backward(dy, cache):
    """Each term x w_{n,m} B'_m[i, j] of Sec. 4.1 sends dy times the other two factors to each factor.

    Returns ``(dx, dw_dw, dw_pw, db)``.
    """
    checks.check_cache("dsc", cache, 4, 2)
    x_pad, (w_dw, w_pw), _, geo = cache
    dx_pad, (dw_dw, dw_pw), db = _gradients(dy, cache, w_pw.shape[0])
    for bi, n, p, q, m, i, j, row, col in _terms(geo, w_pw.shape[0], w_pw.shape[1]):
        g, u = dy[bi, n, p, q], x_pad[bi, m, row, col]
        dx_pad[bi, m, row, col] += g * w_pw[n, m, 0, 0] * w_dw[m, 0, i, j]
        dw_dw[m, 0, i, j] += g * u * w_pw[n, m, 0, 0]
        dw_pw[n, m, 0, 0] += g * u * w_dw[m, 0, i, j]
    return _unpad(dx_pad, geo), dw_dw, dw_pw, db


def bsconv_u_kernel(w_pw, w_dw):
    """Eq. (2), entry by entry: `F[n, m] = w_{n,m} B^(n)`."""
    checks.bsconv_u_weights(w_pw, w_dw)
    n_out, m_in = w_pw.shape[:2]
    f = np.zeros((n_out, m_in, *w_dw.shape[2:]), dtype=w_pw.dtype)
    for n in range(n_out):
        for m in range(m_in):
            f[n, m] = w_pw[n, m, 0, 0] * w_dw[n, 0]
    return f


def bsconv_s_kernel(w_b, w_a, w_dw):
    """Eq. (8), `w_{n,m} = sum_{m'} w^A_{n,m'} w^B_{m',m}`, then Eq. (2)."""
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
    """Eq. (9) as sums: the square root of `sum_{i,j} (sum_m w_{im} w_{jm} - [i == j])^2`."""
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
    """Per filter: the blueprint is the top eigenvector of `S^T S` (`S` the slices), the weights `S B`."""
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
