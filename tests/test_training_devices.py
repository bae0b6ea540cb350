"""What a GPU run depends on, exercised on the CPU: the device chosen and made current, mixed precision with and
without a gradient scaler, generator states of the device in use, resumes on other hardware or process counts,
non-finite losses decided by all processes, deterministic kernels, and one dynamo graph per compiled model."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn as nn

from blueprint import use_backend
from blueprint.cli import main
from blueprint.models import create
from blueprint.training import checkpoint, devices, distributed, load_checkpoint, loop
from blueprint.training.config import TrainConfig
from tests.graph_count import compiled_with_graph_count
from tests.training_data import cifar_args, write_cifar10


class FakeCuda:
    """``torch.cuda`` as a machine with ``count`` GPUs would answer it; records the calls that choose a device."""

    def __init__(self, monkeypatch, count: int, bf16: bool = True):
        self.current, self.states = None, {}
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "set_device", lambda index: setattr(self, "current", index))
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (8, 0) if bf16 else (7, 0))
        monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: torch.tensor([device.index], dtype=torch.uint8))
        monkeypatch.setattr(
            torch.cuda, "set_rng_state", lambda state, device: self.states.update({device.index: state})
        )

        def every_device(*args):
            raise AssertionError("the states of every GPU were asked for, not the one in use")

        monkeypatch.setattr(torch.cuda, "get_rng_state_all", every_device)
        monkeypatch.setattr(torch.cuda, "set_rng_state_all", every_device)


def test_a_named_gpu_is_checked_against_those_present_and_made_current(monkeypatch):
    cuda = FakeCuda(monkeypatch, count=2)
    assert devices.resolve("cuda:1") == torch.device("cuda", 1) and cuda.current == 1
    assert devices.resolve("cuda", local_rank=0) == torch.device("cuda", 0) and cuda.current == 0
    with pytest.raises(ValueError, match=r"^device: 'cuda:2' means GPU 2, but PyTorch sees 2 \(0..1\)$"):
        devices.resolve("cuda:2")
    with pytest.raises(ValueError, match="^device: expected auto, cpu, cuda or cuda:N, got 'tpu'$"):
        devices.resolve("tpu")


def test_auto_is_the_local_ranks_gpu_or_the_cpu(monkeypatch):
    assert devices.resolve("auto") == torch.device("cpu")  # this machine has no GPU
    cuda = FakeCuda(monkeypatch, count=4)
    assert devices.resolve("auto", local_rank=3) == torch.device("cuda", 3) and cuda.current == 3
    assert devices.resolve("auto", local_rank=3, cuda_ok=False) == torch.device("cpu")  # --backend accel


def test_torchrun_without_device_puts_each_process_on_its_local_gpu(monkeypatch):
    cuda = FakeCuda(monkeypatch, count=2)
    joined = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: bool(joined))
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend: joined.append(backend))
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(distributed.dist, "get_world_size", lambda: 2)
    ctx = distributed.setup(TrainConfig.device)
    assert (ctx.device, ctx.rank, ctx.local_rank, joined, cuda.current) == (torch.device("cuda", 1), 1, 1, ["nccl"], 1)


def test_cuda_asked_for_without_a_gpu_is_one_line_in_train_and_evaluate(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    assert main([*tiny_run(data, tmp_path / "run"), "--device", "cpu"]) == 0
    trained = load_checkpoint(str(tmp_path / "run" / "last.pt"))
    trained["config"]["backend"] = "accel"  # as if trained with --backend accel: evaluate runs torch's kernels
    torch.save(trained, tmp_path / "accel.pt")
    capsys.readouterr()
    for argv in (
        ["evaluate", str(tmp_path / "run" / "last.pt"), "--device", "cuda"],
        ["evaluate", str(tmp_path / "accel.pt"), "--device", "cuda:0"],
        [*tiny_run(data, tmp_path / "other"), "--device", "cuda"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "PyTorch sees no CUDA device (use --device cpu)" in err[0], err
    assert main(["evaluate", str(tmp_path / "accel.pt")]) == 0  # auto: the CPU here


def test_bfloat16_needs_no_scaler_float16_does(monkeypatch):
    assert devices.amp_dtype(torch.device("cpu")) == torch.bfloat16
    assert not devices.grad_scaler(torch.device("cpu"), amp=True).is_enabled()
    FakeCuda(monkeypatch, count=1, bf16=True)
    assert devices.amp_dtype(torch.device("cuda", 0)) == torch.bfloat16
    FakeCuda(monkeypatch, count=1, bf16=False)  # e.g. a V100 or T4
    assert devices.amp_dtype(torch.device("cuda", 0)) == torch.float16
    monkeypatch.setattr(devices, "amp_dtype", lambda device: torch.float16)
    assert devices.grad_scaler(torch.device("cpu"), amp=True).is_enabled()
    assert not devices.grad_scaler(torch.device("cpu"), amp=False).is_enabled()


def tiny_run(data_dir, out, *extra):
    return list(cifar_args(data_dir, out, *extra, model="cifar_tiny_cnn_bsconvs_p1d2"))


def test_resume_with_float16_amp_newly_on_starts_the_scaler_afresh(tmp_path, monkeypatch):
    """A first run without --amp (or on the CPU) saved no scaler state; the resumed float16 run (a GradScaler,
    here enabled on the CPU) starts its scaler anew and saves its state."""
    data = write_cifar10(tmp_path / "data")
    assert main(tiny_run(data, tmp_path / "run")) == 0
    assert load_checkpoint(str(tmp_path / "run" / "last.pt"))["scaler"] == {}
    monkeypatch.setattr(devices, "amp_dtype", lambda device: torch.float16)
    assert main(["train", "--resume", "--output-dir", str(tmp_path / "run"), "--epochs", "2", "--amp"]) == 0
    resumed = load_checkpoint(str(tmp_path / "run" / "last.pt"))
    assert resumed["epoch"] == 2 and resumed["scaler"]["scale"] > 0
    assert main(["train", "--resume", "--output-dir", str(tmp_path / "run"), "--epochs", "3", "--amp"]) == 0


def test_only_the_generator_of_the_gpu_in_use_is_saved_and_restored(monkeypatch):
    FakeCuda(monkeypatch, count=2)
    state = checkpoint.rng_state(torch.device("cuda", 1))  # a process of a run on 2 GPUs
    assert state["cuda"].tolist() == [1]
    cuda = FakeCuda(monkeypatch, count=1)  # resumed where one GPU is visible
    checkpoint.set_rng_state(state, torch.device("cuda", 0))
    assert list(cuda.states) == [0] and cuda.states[0].tolist() == [1]
    checkpoint.set_rng_state(state, torch.device("cpu"))  # resumed on the CPU: the GPU state is not needed
    assert list(cuda.states) == [0] and torch.equal(torch.get_rng_state(), state["torch"])
    assert checkpoint.rng_state(torch.device("cpu"))["cuda"] is None


def restored_draws(states: list, rank: int, world: int, seed: int = 0) -> torch.Tensor:
    """What process ``rank`` of ``world`` draws first after ``_restore`` of a checkpoint with ``states``."""
    model = nn.Linear(2, 2)
    optimizer = devices.sgd(model.parameters(), torch.device("cpu"), 0.1, 0.9, 0.0)
    scaler = torch.amp.GradScaler("cpu", enabled=True)  # a float16 run resumed from a run that had none
    ckpt = dict(
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scaler={},
        rng=states,
        epoch=3,
        best_acc=0.5,
        history=[],
    )
    ctx = distributed.Context(rank, world, torch.device("cpu"))
    assert checkpoint.restore(ckpt, "test", model, optimizer, scaler, ctx.rank, ctx.world, ctx.device, seed)[0] == 3
    return torch.rand(4)


def test_resume_on_another_number_of_processes_reseeds_each_from_seed_epoch_and_rank():
    torch.manual_seed(5)
    states = [checkpoint.rng_state(torch.device("cpu"))]  # a single-process run
    expected = torch.rand(4)
    assert torch.equal(restored_draws(states, 0, 1), expected)  # the same number of processes: continued exactly
    draws = [restored_draws(states, rank, 2) for rank in (0, 1)]
    assert not torch.equal(draws[0], draws[1])  # distinct dropout masks on the two processes
    assert torch.equal(draws[1], restored_draws(states, 1, 2)) and not torch.equal(
        draws[1], restored_draws(states, 1, 2, 1)
    )


def test_a_gpu_runs_optimizer_state_keeps_this_devices_kernels():
    params = [nn.Parameter(torch.ones(3))]
    gpu_state = torch.optim.SGD(params, lr=0.1, momentum=0.9, fused=True).state_dict()
    cpu = devices.sgd(params, torch.device("cpu"), 0.1, 0.9, 0.0)
    devices.load_optimizer(cpu, gpu_state)
    assert not cpu.param_groups[0]["fused"]
    params[0].grad = torch.ones(3)
    cpu.step()


def test_a_non_finite_loss_on_another_process_stops_this_one_at_the_same_check(tmp_path, monkeypatch, capsys):
    """Each process sees the loss sums of all (all-reduced) at every check: none raises while others go on."""
    summed = distributed.all_sum

    def another_rank_diverged(values):
        out = summed(values)
        out[0] = float("nan")
        return out

    monkeypatch.setattr(loop, "NAN_CHECK_EVERY", 1)
    monkeypatch.setattr(distributed, "all_sum", another_rank_diverged)
    assert main(tiny_run(write_cifar10(tmp_path / "data"), tmp_path / "run")) == 1  # a run that cannot go on
    assert "not finite) in epoch 1 by step 1 " in capsys.readouterr().err


def test_deterministic_kernels_hold_only_inside_the_run(monkeypatch):
    monkeypatch.delenv(devices.CUBLAS_WORKSPACE, raising=False)
    with devices.kernel_settings(torch.device("cuda", 0), deterministic=True):
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark and os.environ[devices.CUBLAS_WORKSPACE] == ":4096:8"
    with devices.kernel_settings(torch.device("cuda", 0), deterministic=False):
        assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    assert devices.CUBLAS_WORKSPACE not in os.environ


def test_deterministic_run_repeats_bit_for_bit(tmp_path):
    data = write_cifar10(tmp_path / "data")
    for run in ("a", "b"):
        assert main([*tiny_run(data, tmp_path / run), "--deterministic"]) == 0
    a, b = (load_checkpoint(str(tmp_path / run / "last.pt"))["model"] for run in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.are_deterministic_algorithms_enabled()


def test_sync_bn_off_the_gpu_is_one_line(tmp_path, capsys):
    assert main([*tiny_run(write_cifar10(tmp_path / "data"), tmp_path / "run"), "--sync-bn"]) == 2
    assert "--sync-bn: SyncBatchNorm synchronizes over GPUs, got --device cpu" in capsys.readouterr().err


def test_a_compiled_bsconv_model_is_one_graph_also_under_the_accel_backend():
    """dynamo traces no ContextVar (the backend choice) in the layers: one graph, no break at each BSConv."""
    model = create("cifar_tiny_cnn_bsconvu", num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    compiled, graphs = compiled_with_graph_count(model)
    with use_backend("accel"), torch.no_grad():
        y = compiled(x)
    assert len(graphs) == 1
    torch.testing.assert_close(y, model(x))


def test_compile_with_the_accel_backend_is_refused_in_one_line(capsys):
    with pytest.raises(ValueError, match="^compile: torch.compile cannot trace accel's Numba kernels"):
        TrainConfig(model="digits_cnn", backend="accel", compile=True).validate()
    assert (
        main(["bench", "training", "--pairs", "digits_cnn:digits_cnn_bsconvu", "--compile", "--backend", "accel"]) == 2
    )
    assert capsys.readouterr().err.count("\n") == 1
