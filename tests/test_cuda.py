"""On a GPU: training with --amp --channels-last, a checkpoint saved there and resumed on the CPU, the throughput
benchmark, one compiled graph, deterministic and SyncBatchNorm runs, DDP over NCCL. Skipped, with the reason in
the summary, where PyTorch sees no CUDA device; ``scripts/gpu_check.sh`` runs them on a machine that has one."""

from __future__ import annotations

import pytest
import torch

from blueprint import cli
from blueprint.models import create
from blueprint.training import devices, load_checkpoint
from tests.graph_count import compiled_with_graph_count
from tests.training_data import cifar_args, torchrun_train, write_cifar10

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (PyTorch sees none here)")


def train(data, out, *extra):
    assert cli.main(list(cifar_args(data, out, *extra, model="cifar_tiny_cnn_bsconvs_p1d2"))) == 0


def test_amp_channels_last_steps_on_the_gpu_then_resumed_on_the_cpu(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    train(data, tmp_path / "run", "--device", "cuda", "--amp", "--channels-last")
    gpu = load_checkpoint(str(tmp_path / "run" / "last.pt"))
    assert gpu["history"][0]["train_loss"] > 0 and gpu["optimizer"]["param_groups"][0]["fused"]
    float16 = devices.amp_dtype(torch.device("cuda")) == torch.float16
    assert bool(gpu["scaler"]) == float16  # bfloat16 needs no scaler
    assert isinstance(gpu["rng"][0]["cuda"], torch.Tensor)
    assert (
        cli.main(["train", "--resume", "--output-dir", str(tmp_path / "run"), "--epochs", "2", "--device", "cpu"]) == 0
    )
    cpu = load_checkpoint(str(tmp_path / "run" / "last.pt"))
    assert cpu["epoch"] == 2 and not cpu["optimizer"]["param_groups"][0]["fused"]
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "run" / "last.pt"), "--device", "cuda"]) == 0
    assert "accuracy" in capsys.readouterr().out  # on the GPU in float32, the CPU run tested in bfloat16


def test_throughput_bench_on_the_gpu(capsys):
    argv = [
        "bench",
        "training",
        "--device",
        "cuda",
        "--amp",
        "--channels-last",
        "--pairs",
        "digits_cnn:digits_cnn_bsconvu",
        "--batch-size",
        "32",
        "--steps",
        "2",
        "--warmup",
        "1",
    ]
    assert cli.main(argv) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("digits_cnn")]
    assert len(rows) == 2 and all(float(r[4].replace(",", "")) > 0 for r in rows)


def test_the_named_gpu_is_made_current():
    last = torch.cuda.device_count() - 1
    assert devices.resolve(f"cuda:{last}") == torch.device("cuda", last) and torch.cuda.current_device() == last
    devices.resolve("cuda:0")


def test_a_compiled_bsconv_model_on_the_gpu_is_one_graph():
    compiled, graphs = compiled_with_graph_count(create("cifar_resnet20_bsconvu", num_classes=10).cuda())
    compiled(torch.randn(4, 3, 32, 32, device="cuda")).sum().backward()
    assert len(graphs) == 1


def test_deterministic_gpu_runs_repeat_bit_for_bit(tmp_path):
    data = write_cifar10(tmp_path / "data")
    for run in ("a", "b"):
        train(data, tmp_path / run, "--device", "cuda", "--deterministic")
    a, b = (load_checkpoint(str(tmp_path / run / "last.pt"))["model"] for run in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sync_bn_on_one_gpu_trains_and_saves_plain_batchnorm_keys(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    train(data, tmp_path / "run", "--device", "cuda", "--sync-bn", "--model", "cifar_resnet20_bsconvu")
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "run" / "last.pt"), "--device", "cpu"]) == 0


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_torchrun_on_two_gpus_without_device_uses_each_local_gpu(tmp_path):
    data = write_cifar10(tmp_path / "data", n_train=64, n_test=32)
    out = torchrun_train(
        *("--dataset", "cifar10", "--data-dir", str(data), "--model", "cifar_resnet20_bsconvu", "--epochs", "1"),
        *("--batch-size", "16", "--sync-bn", "--output-dir", str(tmp_path / "out")),
        timeout=300,
    )
    assert "2 process(es) on cuda:0" in out
