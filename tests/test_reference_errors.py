"""Bad input is refused at the boundary with an error naming the argument, the value and the expectation."""

import numpy as np
import pytest

import accel
import reference
import reference.naive as naive
from reference.equations import OPS

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 6, 6))
W = rng.standard_normal((6, 4, 3, 3))
W_PW = rng.standard_normal((6, 4, 1, 1))
W_DW = rng.standard_normal((6, 1, 3, 3))
W_DSC_DW = rng.standard_normal((4, 1, 3, 3))
W_DSC_PW = rng.standard_normal((6, 4, 1, 1))
W_B = rng.standard_normal((2, 4, 1, 1))
W_A = rng.standard_normal((6, 2, 1, 1))

BACKENDS = [reference, naive, accel]
IDS = ["vectorized", "naive", "accel"]
NUMPY_ONLY = dict(argvalues=[reference, naive], ids=["vectorized", "naive"])  # accel has no analysis helpers


def forward_calls(backend):
    """Each op's forward as f(x=..., **overrides) with valid defaults."""
    return {
        "conv2d": lambda x=X, w=W, **kw: backend.conv2d_forward(x, w, **kw),
        "dsc": lambda x=X, w_dw=W_DSC_DW, w_pw=W_DSC_PW, **kw: backend.dsc_forward(x, w_dw, w_pw, **kw),
        "bsconv_u": lambda x=X, w_pw=W_PW, w_dw=W_DW, **kw: backend.bsconv_u_forward(x, w_pw, w_dw, **kw),
        "bsconv_s": lambda x=X, w_b=W_B, w_a=W_A, w_dw=W_DW, **kw: backend.bsconv_s_forward(x, w_b, w_a, w_dw, **kw),
    }


def call(backend, op, **kw):
    return forward_calls(backend)[op](**kw)


@pytest.mark.parametrize("backend", BACKENDS, ids=IDS)
@pytest.mark.parametrize("op", OPS)
class TestEveryForward:
    def test_x_with_wrong_ndim(self, backend, op):
        with pytest.raises(ValueError, match=r"x: expected 4 dimensions, got shape \(4, 6, 6\)"):
            call(backend, op, x=X[0])

    def test_x_not_an_array(self, backend, op):
        with pytest.raises(TypeError, match="x: expected a numpy.ndarray, got list"):
            call(backend, op, x=X.tolist())

    def test_integer_dtype(self, backend, op):
        with pytest.raises(TypeError, match="x: expected dtype float32 or float64, got int64"):
            call(backend, op, x=X.astype(np.int64))

    def test_mixed_dtypes(self, backend, op):
        with pytest.raises(TypeError, match="expected dtype float32 like x, got float64"):
            call(backend, op, x=X.astype(np.float32))

    def test_channel_mismatch(self, backend, op):
        with pytest.raises(ValueError, match=r"expected shape .*3.*, got \("):
            call(backend, op, x=X[:, :3])

    def test_kernel_larger_than_padded_input(self, backend, op):
        with pytest.raises(ValueError, match=r"larger than the padded input 2 along H"):
            call(backend, op, x=X[:, :, :2, :2])

    @pytest.mark.parametrize("name", ["stride", "dilation"])
    def test_stride_or_dilation_below_one(self, backend, op, name):
        with pytest.raises(ValueError, match=rf"{name}: expected values >= 1, got \(1, 0\)"):
            call(backend, op, **{name: (1, 0)})

    def test_negative_padding(self, backend, op):
        with pytest.raises(ValueError, match="padding: expected values >= 0, got -1"):
            call(backend, op, padding=-1)

    def test_non_integer_geometry(self, backend, op):
        with pytest.raises(TypeError, match=r"stride: expected an int or a pair of ints, got 1.5"):
            call(backend, op, stride=1.5)

    def test_bias_of_wrong_length(self, backend, op):
        with pytest.raises(ValueError, match=r"b: expected shape \(6,\) \(one per output channel\), got \(5,\)"):
            call(backend, op, b=np.zeros(5))

    @pytest.mark.parametrize("axis", [0, 1, 2])
    def test_empty_dimension(self, backend, op, axis):
        empty = np.zeros([0 if i == axis else d for i, d in enumerate(X.shape)])
        with pytest.raises(ValueError, match=r"x: expected every dimension >= 1, got shape"):
            call(backend, op, x=empty)

    def test_backward_with_wrong_gradient_dtype(self, backend, op):
        y, cache = call(backend, op)
        with pytest.raises(TypeError, match="dy: expected dtype float64 like the forward output, got float32"):
            getattr(backend, f"{op}_backward")(y.astype(np.float32), cache)

    def test_backward_with_wrong_gradient_shape(self, backend, op):
        y, cache = call(backend, op)
        with pytest.raises(ValueError, match=r"dy: expected shape \(2, 6, 4, 4\)"):
            getattr(backend, f"{op}_backward")(np.zeros((2, 6, 4, 5)), cache)


@pytest.mark.parametrize("backend", BACKENDS, ids=IDS)
class TestConvGroups:
    def test_groups_not_dividing_input_channels(self, backend):
        with pytest.raises(ValueError, match="groups: expected a divisor of the input channels M=4, got 3"):
            backend.conv2d_forward(X, W[:, :1], groups=3)

    def test_groups_not_dividing_output_channels(self, backend):
        with pytest.raises(ValueError, match=r"groups: expected a divisor of the output channels N=6 .*got 4"):
            backend.conv2d_forward(X, W[:, :1], groups=4)

    def test_weight_depth_not_matching_groups(self, backend):
        with pytest.raises(ValueError, match=r"w: expected shape \(N, M/groups, KH, KW\) with M/groups=2"):
            backend.conv2d_forward(X, W, groups=2)

    def test_groups_below_one(self, backend):
        with pytest.raises(ValueError, match="groups: expected an int >= 1, got 0"):
            backend.conv2d_forward(X, W, groups=0)


@pytest.mark.parametrize("backend", BACKENDS, ids=IDS)
def test_bsconv_s_subspace_mismatch(backend):
    with pytest.raises(ValueError, match=r"w_a: expected shape \(N, 2, 1, 1\) to match the subspace size M'"):
        backend.bsconv_s_forward(X, W_B, rng.standard_normal((6, 3, 1, 1)), W_DW)


@pytest.mark.parametrize("backend", BACKENDS, ids=IDS)
def test_depthwise_weight_not_one_per_channel(backend):
    with pytest.raises(ValueError, match=r"w_dw: expected shape \(6, 1, K, K\) \(one blueprint per output channel"):
        backend.bsconv_u_forward(X, W_PW, W_DW[:5])


@pytest.mark.parametrize("backend", BACKENDS, ids=IDS)
def test_orthonormal_loss_needs_a_matrix(backend):
    with pytest.raises(ValueError, match=r"w_b: expected 2 dimensions, got shape \(2, 4, 1\)"):
        backend.orthonormal_loss(W_B[..., 0])
    with pytest.raises(ValueError, match=r"w_b: expected shape \(M', M, 1, 1\) or \(M', M\), got \(2, 4, 3, 3\)"):
        backend.orthonormal_loss_backward(rng.standard_normal((2, 4, 3, 3)))


@pytest.mark.parametrize("backend", **NUMPY_ONLY)
def test_analysis_needs_a_4d_kernel(backend):
    with pytest.raises(ValueError, match=r"w: expected every dimension >= 1, got shape \(6, 0, 3, 3\)"):
        backend.blueprint_factorize(W[:, :0])
    with pytest.raises(ValueError, match=r"w: expected 4 dimensions, got shape \(6, 4, 9\)"):
        backend.pc1_explained_variance(W.reshape(6, 4, 9))
    with pytest.raises(TypeError, match="w: expected dtype float32 or float64, got int32"):
        backend.blueprint_factorize(W.astype(np.int32))


@pytest.mark.parametrize("backend", **NUMPY_ONLY)
def test_kernel_builders_check_their_weights(backend):
    with pytest.raises(ValueError, match=r"w_dw: expected shape \(6, 1, K, K\)"):
        backend.bsconv_u_kernel(W_PW, W_DSC_DW)
    with pytest.raises(ValueError, match=r"w_pw: expected shape \(N, 4, 1, 1\) to match the input channels M"):
        backend.dsc_kernel(W_DSC_DW, W_B[:, :3])


@pytest.mark.parametrize("backend", BACKENDS, ids=IDS)
@pytest.mark.parametrize(
    "op, other", [("conv2d", "bsconv_s"), ("dsc", "bsconv_s"), ("bsconv_u", "bsconv_s"), ("bsconv_s", "dsc")]
)
def test_a_backward_given_a_wrong_cache_names_the_cache_and_its_forward(backend, op, other):
    calls = forward_calls(backend)
    y, _ = calls[op]()
    _, foreign = calls[other]()
    backward = getattr(backend, f"{op}_backward")
    for wrong in (y, None, "cache"):
        with pytest.raises(TypeError, match=f"^cache: expected the cache that {op}_forward returned"):
            backward(np.ones_like(y), wrong)
    if backend is not naive or op == "bsconv_s" or other == "bsconv_s":  # naive caches of two ops may look alike
        try:
            backward(np.ones_like(y), foreign)
        except TypeError as err:
            assert str(err).startswith(f"cache: expected the cache that {op}_forward returned")
        except ValueError as err:  # a cache of the right kind whose dy does not fit: refused by check_grad
            assert str(err).startswith("dy:")
