"""accel's register tiles and fused channels-last layers equal the unfused reference chain.

- ``accel.tiles`` holds exactly the tile source that ``accel.tile_source`` writes.
- ``accel.gemm.matmul`` (the separable ops' default product) is a @ b for any strides and sizes.
- ``accel.fused_nhwc.bsconv_u`` is Eq. (6)-(7) (pointwise, then depthwise) with its epilogue, bias, residual
  and activation, against ``reference.conv2d_forward`` on the pointwise output: stride 1 and 2, padding,
  dilation, kernels 1-5, channel counts that are not a multiple of the 16-channel tile; float64 to 1e-10,
  float32 to 1e-4; the padded channels stay zero.
- ``accel.fused_nhwc.dsc`` is Sec. 4.1's DSC (depthwise, its activation, then pointwise) with the same epilogue,
  against the same reference convolutions.
- ``accel.fused_nhwc.pointwise``: a strided 1 x 1 convolution with the same epilogue.
- ``accel.fused_nhwc.conv``: a regular convolution (Eq. 1) with the same epilogue, on inputs with and without
  padded channels.
"""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import reference
from accel import fused_nhwc, gemm, tile_source, tiles

RTOL = {np.float64: 1e-10, np.float32: 1e-4}
ACTS = [None, "relu", "relu6"]  # the ones the 3 x 3 depthwise tiles apply as bounds, and affine takes
ALL_ACTS = [*ACTS, "hswish"]  # the fused layers' activations


def assert_close(actual, expected, dtype, what):
    scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
    error = float(np.abs(actual.astype(np.float64) - expected).max(initial=0.0))
    assert error <= RTOL[dtype] * scale, f"{what}: max error {error:.3g}, scale {scale:.3g}"


def activate(v, act):
    if act == "hswish":
        return v * np.clip(v + 3, 0, 6) / 6
    return v if act is None else np.clip(v, 0, 6 if act == "relu6" else None)


def test_tiles_file_holds_the_generated_tile():
    text = tile_source.tiles_path().read_text()
    assert tile_source.written_block(text) == tile_source.generated_block()


@given(
    i=st.integers(1, 23),
    k=st.integers(1, 40),
    j=st.integers(1, 40),
    dtype=st.sampled_from([np.float32, np.float64]),
    transposed=st.booleans(),
    seed=st.integers(0, 2**16),
)
@example(i=15, k=9, j=48, dtype=np.float32, transposed=False, seed=0)  # 8-, 4- and padded pixel tiles; 2 + 1 blocks
def test_gemm_matmul_equals_a_times_b_for_any_strides(i, k, j, dtype, transposed, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((i, k)).astype(dtype)
    b = rng.standard_normal((j, k)).astype(dtype).T if transposed else rng.standard_normal((k, j)).astype(dtype)
    out = gemm.matmul(a, b)
    assert out.shape == (i, j) and out.dtype == dtype and out.flags.c_contiguous
    assert_close(out, a.astype(np.float64) @ b.astype(np.float64), dtype, "matmul")


@pytest.mark.parametrize("n_rows,threads", [(1, 2), (4096, 2), (16, 2), (130, 1), (7, 8)])
def test_rows_per_task_are_whole_tiles_and_cover_the_rows(n_rows, threads):
    rows = gemm.rows_per_task(n_rows, threads)
    assert rows % tiles.TILE_PIXELS == 0 and rows >= tiles.TILE_PIXELS
    assert -(-n_rows // rows) <= max(1, 4 * threads)


def padded_channels(res, n):
    """A residual (B, H, W, n) as the engine keeps one, zero in the channels up to ``fused_nhwc.padded(n)``; None
    stays None."""
    if res is None:
        return None
    out = np.zeros((*res.shape[:3], fused_nhwc.padded(n)), dtype=res.dtype)
    out[..., :n] = res
    return out


def assert_padded_output(y, expected, n, dtype, what):
    """``y`` is ``expected`` in its first ``n`` channels and zero in the padded ones."""
    assert y.shape == (*expected.shape[:3], fused_nhwc.padded(n)) and y.dtype == dtype
    assert_close(y[..., :n], expected, dtype, what)
    assert not y[..., n:].any(), "the padded channels stay zero"


def unfused(x, w_pw, w_dw, pw_bias, bias, stride, padding, dilation, res, act, mid_act):
    """The reference chain in float64, NCHW inside, channels-last out: act(dw(mid_act(W x + b_pw)) + b + res)."""
    xn = x.transpose(0, 3, 1, 2).astype(np.float64)  # B,M,H,W
    v, _ = reference.conv2d_forward(
        xn, w_pw.astype(np.float64), None if pw_bias is None else pw_bias.astype(np.float64)
    )
    v = activate(v, mid_act)
    y, _ = reference.conv2d_forward(
        v,
        w_dw.astype(np.float64),
        None if bias is None else bias.astype(np.float64),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=w_dw.shape[0],
    )
    y = y.transpose(0, 2, 3, 1)  # B,Ho,Wo,N
    return activate(y if res is None else y + res, act)


@st.composite
def bsconv_cases(draw):
    k = draw(st.sampled_from([1, 3, 5]))
    stride, dilation = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.integers(0, dilation * (k - 1)))
    span = dilation * (k - 1) + 1
    size = lambda: max(1, span - 2 * padding) + draw(st.integers(0, 6))  # noqa: E731
    return dict(
        batch=draw(st.integers(1, 3)),
        m=draw(st.integers(1, 20)),
        n=draw(st.integers(1, 35)),
        h=size(),
        w=size(),
        k=k,
        stride=stride,
        padding=padding,
        dilation=dilation,
    )


@given(
    case=bsconv_cases(),
    dtype=st.sampled_from([np.float32, np.float64]),
    act=st.sampled_from(ALL_ACTS),
    mid_act=st.sampled_from(ALL_ACTS),
    with_res=st.booleans(),
    with_biases=st.booleans(),
    seed=st.integers(0, 2**16),
)
@example(  # one image on two threads: two channel groups, the second's residual read at its channel offset
    case=dict(batch=1, m=5, n=32, h=3, w=3, k=3, stride=1, padding=1, dilation=1),
    dtype=np.float32,
    act="relu6",
    mid_act=None,
    with_res=True,
    with_biases=True,
    seed=1,
)
@example(  # the 3 x 3 tile at stride and dilation 1: two 4-pixel tiles of a row, then one pixel
    case=dict(batch=2, m=7, n=20, h=5, w=9, k=3, stride=1, padding=1, dilation=1),
    dtype=np.float64,
    act="relu",
    mid_act=None,
    with_res=True,
    with_biases=True,
    seed=2,
)
@example(  # the 3 x 3 tile at stride 2 and dilation 2: one 4-pixel tile of a row, then one pixel
    case=dict(batch=1, m=3, n=17, h=9, w=10, k=3, stride=2, padding=2, dilation=2),
    dtype=np.float32,
    act=None,
    mid_act="relu6",
    with_res=True,
    with_biases=False,
    seed=3,
)
@example(  # hard swish after the unit 3 x 3 tile (which then applies no bounds) and on the ring's rows
    case=dict(batch=2, m=6, n=18, h=5, w=9, k=3, stride=1, padding=1, dilation=1),
    dtype=np.float64,
    act="hswish",
    mid_act="hswish",
    with_res=True,
    with_biases=True,
    seed=4,
)
def test_fused_bsconv_u_equals_pointwise_then_depthwise_eq_6_7(case, dtype, act, mid_act, with_res, with_biases, seed):
    rng = np.random.default_rng(seed)
    c = case
    x = rng.standard_normal((c["batch"], c["h"], c["w"], c["m"])).astype(dtype)  # B,H,W,M
    w_pw = rng.standard_normal((c["n"], c["m"], 1, 1)).astype(dtype)
    w_dw = rng.standard_normal((c["n"], 1, c["k"], c["k"])).astype(dtype)
    pw_bias, bias = (rng.standard_normal(c["n"]).astype(dtype) for _ in range(2)) if with_biases else (None, None)
    geo = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
    layer = fused_nhwc.pack_bsconv_u(w_pw, w_dw, pw_bias, bias, **geo)
    expected = unfused(x, w_pw, w_dw, pw_bias, bias, **geo, res=None, act=None, mid_act=mid_act)
    res = rng.standard_normal(expected.shape).astype(dtype) if with_res else None
    expected = unfused(x, w_pw, w_dw, pw_bias, bias, **geo, res=res, act=act, mid_act=mid_act)
    y = fused_nhwc.bsconv_u(x, layer, padded_channels(res, c["n"]), act, mid_act)
    assert_padded_output(y, expected, c["n"], dtype, "fused BSConv-U")


@given(
    case=bsconv_cases(),
    n2=st.integers(1, 35),
    dtype=st.sampled_from([np.float32, np.float64]),
    mid_act=st.sampled_from(ALL_ACTS),
    dw_act=st.sampled_from(ALL_ACTS),
    act=st.sampled_from(ALL_ACTS),
    with_res=st.booleans(),
    seed=st.integers(0, 2**16),
)
@example(  # an inverted residual's three steps at stride 1 with its residual, on one image (two bands)
    case=dict(batch=1, m=16, n=40, h=6, w=9, k=3, stride=1, padding=1, dilation=1),
    n2=16,
    dtype=np.float32,
    mid_act="relu6",
    dw_act="relu6",
    act=None,
    with_res=True,
    seed=7,
)
def test_fused_bsconv_u_with_a_projection_equals_the_three_steps(case, n2, dtype, mid_act, dw_act, act, with_res, seed):
    """act(W2 dw_act(mid_act(W x + b_pw) * B + b) + b2 + res): Eq. (6)-(7), then a 1 x 1 convolution (Eq. 6 again),
    as MobileNetV2's inverted residual (Sec. 4.2) runs them."""
    rng = np.random.default_rng(seed)
    c = case
    x = rng.standard_normal((c["batch"], c["h"], c["w"], c["m"])).astype(dtype)  # B,H,W,M
    w_pw = rng.standard_normal((c["n"], c["m"], 1, 1)).astype(dtype)
    w_dw = rng.standard_normal((c["n"], 1, c["k"], c["k"])).astype(dtype)
    w_proj = rng.standard_normal((n2, c["n"], 1, 1)).astype(dtype)
    pw_bias, bias, proj_bias = (rng.standard_normal(n).astype(dtype) for n in (c["n"], c["n"], n2))
    geo = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
    v = unfused(x, w_pw, w_dw, pw_bias, bias, **geo, res=None, act=dw_act, mid_act=mid_act)  # B,Ho,Wo,N
    y_ref, _ = reference.conv2d_forward(
        v.transpose(0, 3, 1, 2), w_proj.astype(np.float64), proj_bias.astype(np.float64)
    )
    y_ref = y_ref.transpose(0, 2, 3, 1)
    res = rng.standard_normal(y_ref.shape).astype(dtype) if with_res else None
    expected = activate(y_ref + (res if with_res else 0), act)
    layer = fused_nhwc.pack_bsconv_u(w_pw, w_dw, pw_bias, bias, **geo, w_proj=w_proj, proj_bias=proj_bias)
    y = fused_nhwc.bsconv_u(x, layer, padded_channels(res, n2), act, mid_act, dw_act=dw_act)
    assert_padded_output(y, expected, n2, dtype, "fused BSConv-U with a projection")


def unfused_dsc(x, w_dw, w_pw, dw_bias, bias, stride, padding, dilation, res, act, mid_act):
    """The reference chain in float64, channels-last out: act(W mid_act(x * B' + b_dw) + b + res) (Sec. 4.1)."""
    xn = x.transpose(0, 3, 1, 2).astype(np.float64)  # B,M,H,W
    f64 = lambda a: None if a is None else a.astype(np.float64)  # noqa: E731
    u, _ = reference.conv2d_forward(
        xn, f64(w_dw), f64(dw_bias), stride=stride, padding=padding, dilation=dilation, groups=w_dw.shape[0]
    )
    v, _ = reference.conv2d_forward(activate(u, mid_act), f64(w_pw), f64(bias))
    y = v.transpose(0, 2, 3, 1)
    return activate(y if res is None else y + res, act)


@given(
    case=bsconv_cases(),
    dtype=st.sampled_from([np.float32, np.float64]),
    act=st.sampled_from(ALL_ACTS),
    mid_act=st.sampled_from(ALL_ACTS),
    with_res=st.booleans(),
    with_biases=st.booleans(),
    seed=st.integers(0, 2**16),
)
@example(  # the 3 x 3 tile at stride and dilation 1, then at stride 2 (as the BSConv-U examples)
    case=dict(batch=2, m=18, n=9, h=5, w=9, k=3, stride=1, padding=1, dilation=1),
    dtype=np.float64,
    act="relu",
    mid_act="relu",
    with_res=True,
    with_biases=True,
    seed=4,
)
@example(
    case=dict(batch=1, m=5, n=33, h=9, w=10, k=3, stride=2, padding=2, dilation=2),
    dtype=np.float32,
    act=None,
    mid_act="relu6",
    with_res=False,
    with_biases=True,
    seed=5,
)
@example(  # hard swish after the 3 x 3 tile and after the product
    case=dict(batch=2, m=18, n=9, h=5, w=9, k=3, stride=1, padding=1, dilation=1),
    dtype=np.float64,
    act="hswish",
    mid_act="hswish",
    with_res=True,
    with_biases=True,
    seed=6,
)
def test_fused_dsc_equals_depthwise_then_pointwise_sec_4_1(case, dtype, act, mid_act, with_res, with_biases, seed):
    rng = np.random.default_rng(seed)
    c = case
    x = rng.standard_normal((c["batch"], c["h"], c["w"], c["m"])).astype(dtype)  # B,H,W,M
    w_dw = rng.standard_normal((c["m"], 1, c["k"], c["k"])).astype(dtype)
    w_pw = rng.standard_normal((c["n"], c["m"], 1, 1)).astype(dtype)
    dw_bias, bias = (rng.standard_normal(n).astype(dtype) for n in (c["m"], c["n"])) if with_biases else (None, None)
    geo = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
    layer = fused_nhwc.pack_dsc(w_dw, w_pw, dw_bias, bias, **geo)
    plain = unfused_dsc(x, w_dw, w_pw, dw_bias, bias, **geo, res=None, act=None, mid_act=mid_act)
    res = rng.standard_normal(plain.shape).astype(dtype) if with_res else None
    expected = unfused_dsc(x, w_dw, w_pw, dw_bias, bias, **geo, res=res, act=act, mid_act=mid_act)
    y = fused_nhwc.dsc(x, layer, padded_channels(res, c["n"]), act, mid_act)
    assert_padded_output(y, expected, c["n"], dtype, "fused DSC")


@given(
    batch=st.integers(1, 3),
    m=st.integers(1, 20),
    n=st.integers(1, 35),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    stride=st.integers(1, 3),
    act=st.sampled_from(ALL_ACTS),
    with_res=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_fused_pointwise_equals_a_strided_1x1_convolution(batch, m, n, h, w, stride, act, with_res, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, h, w, m)).astype(dtype)
    weight, bias = rng.standard_normal((n, m, 1, 1)).astype(dtype), rng.standard_normal(n).astype(dtype)
    y_ref, _ = reference.conv2d_forward(
        x.transpose(0, 3, 1, 2).astype(np.float64), weight.astype(np.float64), bias.astype(np.float64), stride=stride
    )
    y_ref = y_ref.transpose(0, 2, 3, 1)
    res = rng.standard_normal(y_ref.shape).astype(dtype) if with_res else None
    expected = activate(y_ref + (res if with_res else 0), act)
    y = fused_nhwc.pointwise(x, fused_nhwc.pack_pointwise(weight, bias, stride=stride), padded_channels(res, n), act)
    assert_padded_output(y, expected, n, dtype, "fused pointwise")


@given(
    case=bsconv_cases(),
    act=st.sampled_from(ALL_ACTS),
    with_res=st.booleans(),
    with_bias=st.booleans(),
    padded_input=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
@example(  # a 3-channel stem on one image: two bands of rows, one a thread
    case=dict(batch=1, m=3, n=16, h=6, w=5, k=3, stride=1, padding=1, dilation=1),
    act="relu",
    with_res=False,
    with_bias=True,
    padded_input=False,
    dtype=np.float32,
    seed=6,
)
def test_fused_conv_equals_a_regular_convolution_eq_1(case, act, with_res, with_bias, padded_input, dtype, seed):
    rng = np.random.default_rng(seed)
    c = case
    x = rng.standard_normal((c["batch"], c["h"], c["w"], c["m"])).astype(dtype)  # B,H,W,M
    weight = rng.standard_normal((c["n"], c["m"], c["k"], c["k"])).astype(dtype)
    bias = rng.standard_normal(c["n"]).astype(dtype) if with_bias else None
    geo = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])
    y_ref, _ = reference.conv2d_forward(
        x.transpose(0, 3, 1, 2).astype(np.float64),
        weight.astype(np.float64),
        None if bias is None else bias.astype(np.float64),
        **geo,
    )
    y_ref = y_ref.transpose(0, 2, 3, 1)
    res = rng.standard_normal(y_ref.shape).astype(dtype) if with_res else None
    expected = activate(y_ref + (res if with_res else 0), act)
    stored = fused_nhwc.padded(c["m"]) if padded_input else c["m"]
    xs = np.concatenate([x, np.zeros((*x.shape[:3], stored - c["m"]), dtype)], axis=3)  # zeros in the padded places
    layer = fused_nhwc.pack_conv(weight, bias, in_channels=stored, **geo)
    y = fused_nhwc.conv(xs, layer, padded_channels(res, c["n"]), act)
    assert_padded_output(y, expected, c["n"], dtype, "fused conv")


@given(
    batch=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    c=st.integers(1, 40),
    act=st.sampled_from(ACTS),
    dtype=st.sampled_from([np.float32, np.float64]),
    in_place=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fused_affine_is_a_per_channel_scale_shift_then_the_activation(batch, h, w, c, act, dtype, in_place, seed):
    """y = act(x s + t) per channel: an eval-mode BatchNorm (y = gamma (x - mu) / sigma + beta as s x + t)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, h, w, c)).astype(dtype)
    s, t = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    expected = activate(x.astype(np.float64) * s + t, act)
    y = fused_nhwc.affine(x, s, t, act, out=x if in_place else None)
    assert_close(y, expected, dtype, "fused affine")


def test_packed_layers_take_inputs_with_padded_channels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 5))
    w_pw, w_dw = rng.standard_normal((7, 5, 1, 1)), rng.standard_normal((7, 1, 3, 3))
    narrow = fused_nhwc.bsconv_u(x, fused_nhwc.pack_bsconv_u(w_pw, w_dw, padding=1), act="relu")
    x16 = np.concatenate([x, np.zeros((2, 6, 6, 11))], axis=3)
    wide = fused_nhwc.bsconv_u(x16, fused_nhwc.pack_bsconv_u(w_pw, w_dw, padding=1, in_channels=16), act="relu")
    np.testing.assert_allclose(wide, narrow, rtol=1e-12, atol=1e-12)


def test_bad_inputs_are_named():
    rng = np.random.default_rng(0)
    w_pw, w_dw = rng.standard_normal((4, 3, 1, 1)), rng.standard_normal((4, 1, 3, 3))
    layer = fused_nhwc.pack_bsconv_u(w_pw, w_dw, padding=1)
    with pytest.raises(ValueError, match=r"x: expected a \(B, H, W, 3\) array"):
        fused_nhwc.bsconv_u(rng.standard_normal((1, 5, 5, 4)), layer)
    with pytest.raises(TypeError, match="x: expected dtype float64"):
        fused_nhwc.bsconv_u(np.zeros((1, 5, 5, 3), np.float32), layer)
    with pytest.raises(ValueError, match="res: expected a"):
        fused_nhwc.bsconv_u(np.zeros((1, 5, 5, 3)), layer, res=np.zeros((1, 5, 5, 4)))
    with pytest.raises(ValueError, match="act: expected one of"):
        fused_nhwc.bsconv_u(np.zeros((1, 5, 5, 3)), layer, act="gelu")
    with pytest.raises(ValueError, match="in_channels: expected at least"):
        fused_nhwc.pack_bsconv_u(w_pw, w_dw, in_channels=2)
    with pytest.raises(ValueError, match="w_dw: kernel of size"):
        fused_nhwc.bsconv_u(np.zeros((1, 1, 1, 3)), layer._replace(geometry=layer.geometry._replace(padding=(0, 0))))
    with pytest.raises(ValueError, match=r"w: expected a 1 x 1 convolution weight"):
        fused_nhwc.pack_pointwise(w_dw)
    dsc = fused_nhwc.pack_dsc(rng.standard_normal((3, 1, 3, 3)), w_pw, padding=1)
    with pytest.raises(ValueError, match=r"x: expected a \(B, H, W, 3\) array"):
        fused_nhwc.dsc(rng.standard_normal((1, 5, 5, 4)), dsc)
    with pytest.raises(ValueError, match="act: expected one of"):
        fused_nhwc.dsc(np.zeros((1, 5, 5, 3)), dsc, mid_act="gelu")
    with pytest.raises(ValueError, match=r"dw_bias: expected shape \(3,\)"):
        fused_nhwc.pack_dsc(rng.standard_normal((3, 1, 3, 3)), w_pw, dw_bias=np.zeros(4))
    with pytest.raises(ValueError, match="in_channels: expected at least"):
        fused_nhwc.pack_dsc(rng.standard_normal((3, 1, 3, 3)), w_pw, in_channels=2)
    with pytest.raises(ValueError, match=r"t: expected a \(3,\) float64 array"):
        fused_nhwc.affine(np.zeros((1, 2, 2, 3)), np.ones(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"w_proj: expected a float64 \(N2, 4, 1, 1\) array"):
        fused_nhwc.pack_bsconv_u(w_pw, w_dw, padding=1, w_proj=np.zeros((5, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"act: expected one of \[None, 'relu', 'relu6'\], got 'hswish'"):
        fused_nhwc.affine(np.zeros((1, 2, 2, 3)), np.ones(3), np.zeros(3), act="hswish")
    with pytest.raises(ValueError, match="dw_act: a layer without a projection"):
        fused_nhwc.bsconv_u(np.zeros((1, 5, 5, 3)), layer, dw_act="relu")
    w_conv = rng.standard_normal((4, 3, 3, 3))
    conv = fused_nhwc.pack_conv(w_conv, padding=1)
    with pytest.raises(ValueError, match=r"w: expected a convolution weight \(N, M, KH, KW\)"):
        fused_nhwc.pack_conv(w_conv[0])
    with pytest.raises(ValueError, match=r"bias: expected shape \(4,\)"):
        fused_nhwc.pack_conv(w_conv, np.zeros(3))
    with pytest.raises(ValueError, match="in_channels: expected at least"):
        fused_nhwc.pack_conv(w_conv, in_channels=2)
    with pytest.raises(ValueError, match=r"x: expected a \(B, H, W, 3\) array"):
        fused_nhwc.conv(rng.standard_normal((1, 5, 5, 4)), conv)
    with pytest.raises(ValueError, match="w: kernel of size"):
        fused_nhwc.conv(np.zeros((1, 1, 1, 3)), conv._replace(geometry=conv.geometry._replace(padding=(0, 0))))


def test_a_layer_replaced_with_other_taps_or_geometry_does_not_reuse_the_first_layers_launch():
    """``bsconv_u`` keeps what a call needs besides the arrays per input shape; ``layer._replace`` shares that
    dict, so a launch is kept per geometry and used only with the taps, bias and projection it was made from."""
    rng = np.random.default_rng(1)
    w_pw, w_dw = rng.standard_normal((4, 3, 1, 1)), rng.standard_normal((4, 1, 3, 3))
    x = rng.standard_normal((1, 6, 6, 3))
    layer = fused_nhwc.pack_bsconv_u(w_pw, w_dw, padding=1)
    fused_nhwc.bsconv_u(x, layer)
    other = fused_nhwc.pack_bsconv_u(w_pw, 2 * w_dw, padding=1)
    doubled = layer._replace(taps=other.taps)
    np.testing.assert_allclose(fused_nhwc.bsconv_u(x, doubled), fused_nhwc.bsconv_u(x, other))
    strided = fused_nhwc.pack_bsconv_u(w_pw, w_dw, padding=1, stride=2)
    assert fused_nhwc.bsconv_u(x, layer._replace(geometry=strided.geometry)).shape == (1, 3, 3, 16)
    # one image of 32 channels on two threads runs as two channel groups; with a projection as one
    w_pw, w_dw, w_proj = (
        rng.standard_normal((32, 3, 1, 1)),
        rng.standard_normal((32, 1, 3, 3)),
        rng.standard_normal((5, 32, 1, 1)),
    )
    x = rng.standard_normal((1, 3, 3, 3))
    plain = fused_nhwc.pack_bsconv_u(w_pw, w_dw, padding=1)
    fused_nhwc.bsconv_u(x, plain)
    projected = fused_nhwc.pack_bsconv_u(w_pw, w_dw, padding=1, w_proj=w_proj)
    swapped = plain._replace(proj_w=projected.proj_w, proj_bias=projected.proj_bias, out_channels=5)
    np.testing.assert_allclose(fused_nhwc.bsconv_u(x, swapped), fused_nhwc.bsconv_u(x, projected))


@pytest.mark.parametrize(
    "batch,rows,stride,bands",
    [(32, 32, 1, 1), (1, 7, 1, 1), (1, 14, 1, 2), (1, 7, 2, 3), (1, 112, 1, 4), (2, 56, 1, 2)],
)
def test_row_bands_keep_the_recomputed_rows_of_v_prime_within_a_third(batch, rows, stride, bands):
    assert fused_nhwc.row_bands(batch, rows, threads=2, stride=stride, depth=3) == bands


@pytest.mark.parametrize("tiles,tasks,groups", [(64, 1, 4), (64, 32, 1), (6, 1, 3), (1, 1, 1), (32, 2, 2)])
def test_channel_groups_divide_the_tiles_and_fill_the_threads(tiles, tasks, groups):
    assert fused_nhwc.channel_groups(tiles, tasks, threads=2) == groups


@pytest.mark.parametrize("pixels,block", [(32 * 16, 64), (16, 8), (49, 16), (8, 8), (1, 8), (10**6, 64)])
def test_pixel_blocks_are_whole_tiles_and_give_each_thread_two_tasks_where_they_can(pixels, block):
    assert fused_nhwc.pixel_block(pixels, threads=2) == block
