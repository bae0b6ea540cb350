"""Sec. 3.1's analysis: PC1 explained variance per filter, stages, figures, and ``blueprint analyze``."""

import numpy as np
import pytest
import torch
import torch.nn as nn

import reference
from blueprint.analysis import analyze_kernels, load_source, write_analysis
from blueprint.cli import main

TINY = "test_analysis_tiny"


def _net(num_classes=10):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),  # 0: 16x16
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),  # 2: 16x16
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),  # 4: 8x8
        nn.Conv2d(16, 16, 1),  # 6: pointwise, not analyzed
        nn.Conv2d(16, 16, 3, padding=1, groups=16),  # 7: depthwise, not analyzed
        nn.Conv2d(16, 32, 3, stride=2, padding=1),  # 8: 4x4
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, num_classes),
    )


@pytest.fixture
def zoo_entry(register_test_model):
    """Register the test model only while a test runs, so that zoo-wide tests never see it."""
    register_test_model(TINY, _net)


def test_sec3_1_blueprint_structured_filters_are_fully_explained_by_pc1():
    rng = np.random.default_rng(0)
    model = _net()
    with torch.no_grad():
        for conv in (model[2], model[4]):
            n, m, k, _ = conv.weight.shape
            w = reference.bsconv_u_kernel(rng.standard_normal((n, m, 1, 1)), rng.standard_normal((n, 1, k, k)))
            conv.weight.copy_(torch.from_numpy(w))  # F_m^(n) = w_{n,m} B^(n), Eq. (2)
    result = analyze_kernels(model, input_size=(3, 16, 16))
    np.testing.assert_allclose(result.layer("2").explained, 1.0, rtol=1e-10)
    np.testing.assert_allclose(result.layer("4").explained, 1.0, rtol=1e-10)
    assert result.layer("8").explained.max() < 0.9  # random filters are not one blueprint


def test_sec3_1_three_orthogonal_slices_split_their_variance_in_half():
    model = nn.Sequential(nn.Conv2d(3, 1, 3, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(3, 9).reshape(1, 3, 3, 3))  # slices e_1, e_2, e_3
    result = analyze_kernels(model, input_size=(3, 5, 5))
    np.testing.assert_allclose(result.layers[0].explained, [0.5], rtol=1e-12)  # centered: a regular triangle


class _WithUnusedConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.net, self.unused = _net(), nn.Conv2d(4, 4, 3)

    def forward(self, x):
        return self.net(x)


def test_stages_by_resolution_skip_pointwise_depthwise_and_unused_convs():
    result = analyze_kernels(_WithUnusedConv(), input_size=(3, 16, 16))
    assert [(layer.name, layer.stage) for layer in result.layers] == [
        ("net.0", 1),
        ("net.2", 1),
        ("net.4", 2),
        ("net.8", 3),
    ]
    assert result.stage_labels == {1: "stage 1 (16x16)", 2: "stage 2 (8x8)", 3: "stage 3 (4x4)"}
    for layer in result.layers:
        np.testing.assert_allclose(layer.explained, reference.pc1_explained_variance(layer.weight))


def test_a_state_dict_is_staged_by_width_and_the_table_gives_mean_and_median_per_stage():
    result = analyze_kernels(_net().state_dict())
    assert result.stage_by == "width"
    assert [(layer.name, layer.stage) for layer in result.layers] == [("0", 1), ("2", 1), ("4", 2), ("8", 3)]
    lines = result.table().splitlines()
    assert lines[0].split()[:3] == ["stage", "layers", "filters"]
    stage1 = np.concatenate([result.layers[0].explained, result.layers[1].explained])
    cells = lines[2].split()  # lines[1] is the rule under the header
    assert cells[:6] == ["stage", "1", "(8", "ch)", "2", "16"]
    assert float(cells[6]) == pytest.approx(100 * stage1.mean(), abs=0.05)
    assert float(cells[7]) == pytest.approx(100 * np.median(stage1), abs=0.05)
    assert lines[-1].split()[:3] == ["all", "4", str(8 + 8 + 16 + 32)]


def test_figures_are_written_as_png(tmp_path):
    result = analyze_kernels(_net(), input_size=(3, 16, 16))
    files = write_analysis(result, tmp_path / "out", title="tiny")
    assert (files.layer, files.filter_index) == ("2", int(np.argmax(result.layer("2").explained)))
    for path in (files.histogram, files.slices):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_analyze_command_on_a_zoo_name_and_on_checkpoint_files(tmp_path, capsys, zoo_entry):
    assert main(["analyze", TINY, "--input-size", "3", "16", "16", "--output-dir", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "stage 3 (4x4)" in out and (tmp_path / "a" / "pc1_histogram.png").exists()
    checkpoint = tmp_path / "last.pt"
    torch.save({"model": _net().state_dict(), "epoch": 3}, checkpoint)
    assert main(["analyze", str(checkpoint), "--output-dir", str(tmp_path / "b"), "--layer", "4", "--filter", "0"]) == 0
    assert "stages by width" in capsys.readouterr().out
    args = ["analyze", str(checkpoint), "--model", TINY, "--num-classes", "10", "--input-size", "3", "16", "16"]
    assert main([*args, "--output-dir", str(tmp_path / "c")]) == 0
    assert "stage 1 (16x16)" in capsys.readouterr().out


def test_bad_sources_and_arguments_give_one_error_line(tmp_path, capsys, zoo_entry):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    torch.save({"epoch": 3}, tmp_path / "empty.pt")
    for args in (
        ["analyze", str(junk)],
        ["analyze", str(tmp_path / "empty.pt")],
        ["analyze", TINY, "--input-size", "3", "16", "16", "--layer", "6", "--output-dir", str(tmp_path)],
        ["analyze", TINY, "--input-size", "5", "16", "16", "--output-dir", str(tmp_path)],
        ["analyze", str(tmp_path / "empty.pt"), "--model", TINY],
        ["analyze", str(tmp_path / "missing.pt")],
    ):
        assert main(args) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="^stage_by: 'resolution' needs a module"):
        analyze_kernels(_net().state_dict(), stage_by="resolution")
    with pytest.raises(TypeError, match="^source: expected"):
        load_source(3)
    with pytest.raises(ValueError, match="^input_size: expected"):
        analyze_kernels(_net(), input_size=(16, 16))
    with pytest.raises(ValueError, match="^source: none of the convolutions to analyze ran"):
        idle = _WithUnusedConv()
        idle.net = nn.Identity()  # only the unused conv is left
        analyze_kernels(idle, input_size=(4, 8, 8))
