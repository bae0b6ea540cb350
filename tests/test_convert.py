"""``blueprint.convert``: which layers it replaces, the geometry it keeps, and the SVD initialization (Eq. 2, 8)."""

import numpy as np
import pytest
import torch
import torch.nn as nn

import reference
from blueprint import BSConvS, BSConvU, DSConv, convert, orthonormal_loss


def _cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 0: converted
        nn.ReLU(),
        nn.Conv2d(8, 8, 1),  # 2: pointwise, left alone
        nn.Conv2d(8, 8, 3, padding=1, groups=2),  # 3: grouped, left alone
        nn.Sequential(nn.Conv2d(8, 12, 5, stride=2, padding=2, bias=False)),  # 4.0: converted
        nn.Conv2d(12, 12, 7, padding=3),  # 5: kernel size not listed
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(12, 10),
    ).double()


def test_converter_replaces_listed_kernel_sizes_and_leaves_grouped_and_1x1_convs_alone():
    model = _cnn()
    kept = {i: model[i] for i in (2, 3, 5, 8)}
    converted = convert(model, to="bsconv_u")
    assert converted is model
    assert isinstance(model[0], BSConvU) and isinstance(model[4][0], BSConvU)
    assert all(model[i] is m for i, m in kept.items())
    assert [layer.name for layer in model.conversion_report.layers] == ["0", "4.0"]
    assert model(torch.zeros(2, 3, 16, 16, dtype=torch.float64)).shape == (2, 10)


def test_converter_keeps_geometry_bias_dtype_and_mode():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, bias=False, padding_mode="reflect").float().eval()
    layer = convert(nn.Sequential(conv), to="bsconv_s", p=0.5)[0]
    assert isinstance(layer, BSConvS) and layer.pw1.out_channels == 4  # max(4, ceil(0.5 * 4)) = 4
    dw = layer.dw
    assert (dw.stride, dw.padding, dw.dilation, dw.padding_mode) == ((2, 2), (2, 2), (2, 2), "reflect")
    assert dw.bias is None and dw.weight.dtype == torch.float32 and not layer.training


@pytest.mark.parametrize(
    "geometry",
    [
        dict(padding=1),
        dict(stride=2, padding=2, dilation=2),
        dict(padding=1, padding_mode="reflect"),
        dict(padding=1, padding_mode="circular", bias=False),
        dict(padding="same"),
    ],
)
def test_eq2_svd_init_is_exact_on_blueprint_structured_kernels(geometry):
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(5, 7, 3, **geometry).double()
    with torch.no_grad():
        w_pw, w_dw = rng.standard_normal((7, 5, 1, 1)), rng.standard_normal((7, 1, 3, 3))
        conv.weight.copy_(torch.from_numpy(reference.bsconv_u_kernel(w_pw, w_dw)))  # F_m^(n) = w_{n,m} B^(n)
    x = torch.from_numpy(rng.standard_normal((2, 5, 9, 9)))
    expected = conv(x)
    model = convert(nn.Sequential(conv), init="svd")
    assert model.conversion_report.max_rel_error < 1e-12
    torch.testing.assert_close(model(x), expected, rtol=1e-10, atol=1e-10)


def test_eq8_svd_init_to_bsconv_s_is_exact_for_low_rank_weights_with_orthonormal_w_b():
    rng = np.random.default_rng(1)
    conv = nn.Conv2d(16, 10, 3, padding=1).double()
    w_b, w_a, w_dw = (rng.standard_normal(s) for s in [(4, 16, 1, 1), (10, 4, 1, 1), (10, 1, 3, 3)])
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(reference.bsconv_s_kernel(w_b, w_a, w_dw)))  # rank(W) = 4 = M'
    x = torch.from_numpy(rng.standard_normal((1, 16, 6, 6)))
    model = convert(nn.Sequential(conv), to="bsconv_s", p=0.25, init="svd")
    assert model[0].pw1.out_channels == 4
    assert model.conversion_report.max_rel_error < 1e-12
    torch.testing.assert_close(model(x), conv(x), rtol=1e-10, atol=1e-10)
    assert orthonormal_loss(model).item() < 1e-12  # Eq. 9 starts at its minimum


@pytest.mark.parametrize("to", ["bsconv_u", "bsconv_s"])
def test_svd_init_reports_the_relative_error_of_the_kernel_it_computes(to):
    model = _cnn()
    original = model[0]
    convert(model, to=to, init="svd")
    layer, w = model[0], original.weight.detach().numpy()
    if to == "bsconv_u":
        w_hat = reference.bsconv_u_kernel(layer.pw.weight.detach().numpy(), layer.dw.weight.detach().numpy())
    else:
        weights = (layer.pw1.weight, layer.pw2.weight, layer.dw.weight)
        w_hat = reference.bsconv_s_kernel(*(t.detach().numpy() for t in weights))
    expected = np.linalg.norm(w - w_hat) / np.linalg.norm(w)
    assert model.conversion_report.layers[0].rel_error == pytest.approx(expected, rel=1e-9)
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    full = nn.functional.conv2d(x, torch.from_numpy(w_hat), original.bias, padding=1)
    torch.testing.assert_close(layer(x), full)


def test_exclude_by_name_pattern_or_predicate():
    assert [layer.name for layer in convert(_cnn(), exclude="0").conversion_report.layers] == ["4.0"]
    assert [layer.name for layer in convert(_cnn(), exclude=["4"]).conversion_report.layers] == ["0"]  # an ancestor
    assert [layer.name for layer in convert(_cnn(), exclude="4.*").conversion_report.layers] == ["0"]
    chosen = convert(_cnn(), exclude=lambda name, conv: conv.in_channels == 3).conversion_report.layers
    assert [layer.name for layer in chosen] == ["4.0"]
    with pytest.raises(ValueError, match="^exclude: 'stem' matches no module"):
        convert(_cnn(), exclude="stem")


def test_a_single_conv_is_converted_and_returned_and_bsconv_layers_are_not_converted_again():
    assert isinstance(convert(nn.Conv2d(3, 4, 3)), BSConvU)
    model = nn.Sequential(BSConvU(4, 1, 3))  # its dw is a 3x3 conv with groups=1
    inner = model[0].dw
    with pytest.warns(UserWarning, match=r"nothing to convert to bsconv_u: its 2 nn.Conv2d are inside BSConv"):
        assert convert(model)[0].dw is inner and model.conversion_report.layers == []


def test_a_model_with_nothing_to_convert_is_left_alone_with_a_warning_giving_the_reason():
    cases = [
        (nn.Sequential(nn.Linear(3, 4)), "the model has no nn.Conv2d"),
        (
            nn.Sequential(nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 3, groups=4)),
            r"its 2 nn.Conv2d are grouped or depthwise \(1\), of kernel sizes other than \[\(3, 3\), \(5, 5\)\] \(1\)",
        ),
        (nn.Sequential(nn.Conv2d(4, 4, 3)), r"excluded \(1\)"),
    ]
    for model, reason in cases:
        exclude = "0" if reason.startswith("excluded") else None
        with pytest.warns(UserWarning, match=f"^convert: nothing to convert to bsconv_u: .*{reason}"):
            convert(model, exclude=exclude)
        assert model.conversion_report.layers == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(to="bsconv_x"), ValueError, "^to: expected one of"),
        (dict(init="kaiming"), ValueError, "^init: expected one of"),
        (dict(to="bsconv_s", p=0.0), ValueError, "^p: expected"),
        (dict(kernel_sizes=()), ValueError, "^kernel_sizes: expected at least one"),
        (dict(kernel_sizes=(3, 0)), ValueError, "^kernel_sizes: expected positive"),
        (dict(kernel_sizes="3"), ValueError, "^kernel_sizes: expected positive"),
        (dict(init="svd", with_bn=True), ValueError, "^with_bn: init='svd'"),
        (dict(exclude=3), TypeError, "^exclude: expected"),
        (dict(reverse_dsc=1), TypeError, "^reverse_dsc: expected True or False"),
        (dict(reverse_dsc=True, to="bsconv_s"), ValueError, "^reverse_dsc: a DSC reverses into"),
        (dict(reverse_dsc=True, init="svd"), ValueError, "^reverse_dsc: a DSC reverses into"),
    ],
)
def test_bad_converter_arguments_raise_naming_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        convert(_cnn(), **kwargs)


def test_a_layer_the_bsconv_cannot_express_names_the_layer_and_leaves_the_model_unchanged():
    model = nn.Sequential(nn.Conv2d(3, 3, 3), nn.Conv2d(3, 3, 4, padding="same"))
    with pytest.raises(ValueError, match=r"^layer 1: padding: 'same' needs an odd kernel_size"):
        convert(model, kernel_sizes=(3, 4))
    assert type(model[0]) is nn.Conv2d
    with pytest.raises(TypeError, match="^model: expected an nn.Module"):
        convert("model")


def test_sec4_1_reverse_dsc_swaps_each_dsc_for_bsconv_u_of_the_same_geometry_pointwise_first():
    """A DSC M -> N (depthwise M K^2, pointwise M N) becomes BSConv-U (pointwise M N, depthwise N K^2); the bias
    moves to the depthwise step and a BatchNorm between the steps stays; regular convolutions convert as ever."""
    model = nn.Sequential(
        DSConv(4, 6, 3, stride=2, padding=1, dilation=1, bias=True),
        nn.Sequential(DSConv(6, 8, 5, padding=2, bias=False, with_bn=True)),
        nn.Conv2d(8, 8, 3, padding=1),
    ).double()
    assert [type(m) for m in convert(model)] == [DSConv, nn.Sequential, BSConvU]  # without the flag: kept
    convert(model, reverse_dsc=True)
    first, second = model[0], model[1][0]
    assert (
        type(first) is BSConvU
        and type(second) is BSConvU
        and [n for n, _ in second.named_children()] == ["pw", "bn", "dw"]
    )
    assert (first.dw.stride, first.dw.padding, first.dw.weight.dtype) == ((2, 2), (1, 1), torch.float64)
    assert first.dw.bias is not None and second.dw.bias is None and first.pw.bias is None
    assert sum(p.numel() for p in first.parameters()) == 4 * 6 + 6 * 9 + 6
    layers = model.conversion_report.layers
    report = [
        (layer.name, layer.kernel_size, layer.in_channels, layer.out_channels, layer.params_after) for layer in layers
    ]
    assert report == [("0", (3, 3), 4, 6, 84), ("1.0", (5, 5), 6, 8, 6 * 8 + 2 * 8 + 8 * 25)]
    assert model(torch.randn(1, 4, 8, 8, dtype=torch.float64)).shape == (1, 8, 4, 4)
    assert isinstance(convert(DSConv(3, 4, 3), reverse_dsc=True), BSConvU)  # a DSC on its own is returned


def test_a_layer_that_grows_in_conversion_is_named_in_a_warning_and_the_report():
    """A 1-channel 3x3 stem: 1 * 32 * 9 = 288 parameters as a convolution, 32 * 9 + 32 * 1 = 320 as BSConv-U."""
    import warnings

    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        convert(net, to="bsconv_u")
    said = [str(w.message) for w in caught if "more parameters" in str(w.message)]
    assert len(said) == 1 and "0 (288 -> 320)" in said[0]
    assert [layer.name for layer in net.conversion_report.grown] == ["0"]
    assert "note: 1 layer(s) have more parameters" in net.conversion_report.table()
