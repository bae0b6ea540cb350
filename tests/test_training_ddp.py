"""DistributedDataParallel under torchrun: two gloo processes on the CPU train one model, rank 0 writes."""

from __future__ import annotations

import torch

from blueprint.models import create
from blueprint.training import evaluate, load_checkpoint, recipe
from blueprint.training.checkpoint import load_weights
from blueprint.training.data import make_loader
from tests.training_data import torchrun_train, write_cifar10


def torchrun(*args) -> str:
    return torchrun_train(*args)


def test_torchrun_two_cpu_processes_train_resume_and_evaluate_the_whole_test_set(tmp_path):
    data = write_cifar10(tmp_path / "data", n_train=60, n_test=31)  # uneven shards: 30+30 padded, 16+15
    common = ("--dataset", "cifar10", "--data-dir", str(data), "--model", "cifar_tiny_cnn", "--batch-size", "16")
    out = torchrun(*common, "--epochs", "2", "--output-dir", str(tmp_path / "resumed"))
    assert out.count("epoch   2/2") == 1 and "2 process(es)" in out  # only rank 0 prints
    assert len(load_checkpoint(str(tmp_path / "resumed" / "last.pt"))["rng"]) == 2  # every process's generators
    torchrun("--resume", "--epochs", "3", "--output-dir", str(tmp_path / "resumed"))
    torchrun(*common, "--epochs", "3", "--output-dir", str(tmp_path / "straight"))
    resumed, straight = (load_checkpoint(str(tmp_path / run / "last.pt")) for run in ("resumed", "straight"))
    assert resumed["epoch"] == straight["epoch"] == 3
    assert all(torch.equal(resumed["model"][k], straight["model"][k]) for k in straight["model"])
    # The processes' summed test metrics equal a single-process evaluation of the saved model.
    loader = make_loader(recipe("cifar10", data_dir=str(data), batch_size=16), "cpu")
    model = create("cifar_tiny_cnn", num_classes=10)
    load_weights(model, resumed["model"], "last.pt")
    loss, acc = evaluate(model, loader, "cpu")
    assert abs(loss - resumed["history"][-1]["test_loss"]) < 1e-5 and acc == resumed["history"][-1]["test_acc"]
