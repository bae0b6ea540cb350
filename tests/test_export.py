"""Deployment: BSConv models export to ONNX (run in onnxruntime) and run under ``torch.compile``."""

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

import blueprint
from blueprint import BSConvS, BSConvU, cli, deployment, orthonormal_loss
from blueprint.models import create
from tests.batchnorms import randomized_batchnorms

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")  # torch internals


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        BSConvU(3, 8, 3, padding=1, with_bn=True),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        BSConvS(8, 16, 3, stride=2, padding=1, p=0.5, with_bn=True),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        BSConvU(16, 16, 5, padding=2, padding_mode="reflect", bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 4),
    )


def _trained_statistics(model):
    """Non-trivial BatchNorm statistics, so that the export must carry them."""
    with torch.no_grad():
        model.train()(torch.randn(8, 3, 16, 16))
    return model.eval()


def test_onnx_export_runs_in_onnxruntime_with_outputs_equal_to_pytorch(tmp_path):
    model = _trained_statistics(_model())
    x = torch.randn(2, 3, 16, 16)
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.onnx.export(model, (x,), dynamo=True, dynamic_shapes=({0: batch},), verbose=False)
    path = tmp_path / "bsconv.onnx"
    program.save(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for size in (2, 5):
        x = torch.randn(size, 3, 16, 16)
        (y,) = session.run(None, {name: x.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(y, model(x).numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("spinning", [True, False])
def test_fused_model_exports_and_runs_in_onnxruntime_equal_to_the_unfused_model(tmp_path, spinning):
    model = _trained_statistics(_model())
    fused = blueprint.fuse(model)
    assert fused.fusion_report.count("folded") == 5 and fused.fusion_report.count("merged") == 0
    path = str(tmp_path / "fused.onnx")
    deployment.export_onnx(fused, path, (3, 16, 16))
    session = deployment.onnx_session(path, threads=2, spinning=spinning)
    if not spinning:
        assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    for size in (1, 3):
        x = torch.randn(size, 3, 16, 16)
        with torch.no_grad():
            np.testing.assert_allclose(deployment.run_onnx(session, x), model(x), rtol=1e-4, atol=1e-4)


def test_export_cli_writes_a_fused_checkpoint_that_onnxruntime_runs_equal_to_the_model(tmp_path, capsys):
    """A `blueprint train`-style checkpoint (model_name, num_classes, input_size, weights) through --fuse."""
    model = randomized_batchnorms(create("digits_cnn_bsconvs_p1d4", num_classes=10))
    checkpoint, path = tmp_path / "best.pt", tmp_path / "digits.onnx"
    torch.save(
        {
            "model": model.state_dict(),
            "model_name": "digits_cnn_bsconvs_p1d4",
            "num_classes": 10,
            "input_size": (1, 8, 8),
        },
        checkpoint,
    )
    assert cli.main(["export", str(checkpoint), "--onnx", str(path), "--fuse"]) == 0
    out = capsys.readouterr().out
    assert "merged" in out and "kept two" in out and "agrees with PyTorch" in out
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        np.testing.assert_allclose(
            deployment.run_onnx(deployment.onnx_session(str(path), 1), x), model(x), rtol=1e-4, atol=1e-4
        )


@pytest.mark.parametrize(
    "argv,message",
    [
        (["nosuch_net"], "MODEL: unknown name 'nosuch_net'"),
        (["digits_cnm"], "MODEL: unknown name 'digits_cnm'; closest: digits_cnn"),
        (["runs/missing.pt"], "MODEL: no such checkpoint file: 'runs/missing.pt'"),
        (["digits_cnn", "--num-classes", "0"], "--num-classes: expected an int >= 1, got 0"),
    ],
)
def test_export_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    assert cli.main(["export", *argv, "--onnx", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"blueprint export: error: {message}") and err.count("\n") == 1


def test_export_cli_refuses_an_unwritable_onnx_path_before_loading(tmp_path, capsys):
    assert cli.main(["export", "digits_cnn", "--onnx", str(tmp_path / "no" / "x.onnx")]) == 2
    assert "--onnx: the folder" in capsys.readouterr().err


def test_torch_compile_inference_equals_eager():
    model = _trained_statistics(_model())
    compiled = torch.compile(model)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)


def test_torch_compile_training_step_with_orthonormal_loss_equals_eager():
    """Graph capture and autograd of a training step (aot_eager: the code-generating backend is slow on 2 cores)."""
    model = _model()
    x, target = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])

    def step(net):
        loss = nn.functional.cross_entropy(net(x), target) + 0.1 * orthonormal_loss(model)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    loss, grads = step(model)
    model.zero_grad()
    compiled_loss, compiled_grads = step(torch.compile(model, backend="aot_eager"))
    torch.testing.assert_close(compiled_loss, loss)
    for a, b in zip(compiled_grads, grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    yield
    torch._dynamo.reset()


def test_a_missing_onnx_package_is_one_line_with_the_install_command_and_exit_1(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_onnxscript(name, *args, **kwargs):
        if name == "onnxscript":
            raise ImportError("No module named 'onnxscript'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_onnxscript)
    assert cli.main(["export", "digits_cnn", "--onnx", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "blueprint export: error: ONNX export needs the onnxscript package, which is not installed: "
        "pip install 'blueprint-bsconv[export]'"
    ]
