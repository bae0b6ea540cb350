"""``fit(config)``: train a zoo model (or your own) with the Sec. 5 protocol, evaluate every epoch, checkpoint, resume.

The loss of a batch is cross-entropy plus ``alpha`` times the orthonormal loss of Eq. (9), summed over the model's
W^B (zero for models without BSConv-S). SGD with momentum and weight decay; the learning rate changes once per
epoch, a function of (epoch, total epochs) (``schedule``). Every epoch writes ``last.pt`` (and ``best.pt`` when the
test accuracy improves, so ``best.pt`` is the epoch of the best test accuracy) atomically, then ``metrics.csv``, and
``curves.png`` after the first and the last epoch and in between every epoch that ends ``CURVES_EVERY_S`` after the
last plot.

A run stops with ``TrainingError`` as soon as the training loss, the test loss or any parameter or buffer is not
finite, before that epoch is saved: a checkpoint never holds a poisoned model. An interruption (Ctrl-C, or SIGTERM
where the command line turns it into one) is re-raised saying which epoch ``last.pt`` holds.

Exact resume: the data order and augmentation depend only on (seed, epoch) (``sampling``); the checkpoint holds the
model, optimizer, AMP scaler and every process's generator states, so resuming after epoch e gives the same weights
as an uninterrupted run (on the same hardware and software; on a GPU with ``deterministic``, since cuDNN's
autotuning may choose other algorithms in another process).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from blueprint.backend import use_backend
from blueprint.models.factory import build
from blueprint.paths import writable_folder
from blueprint.profiling import profile
from blueprint.progress import progress
from blueprint.regularization import OrthonormalLoss
from blueprint.training import devices, distributed, from_trained
from blueprint.training.checkpoint import (
    Preprocessing,
    atomic_save,
    epochs_of,
    load_checkpoint,
    make_checkpoint,
    read_checkpoint,
    reseed,
    restore,
    rng_state,
)
from blueprint.training.config import TrainConfig, save_config
from blueprint.training.data import make_loader
from blueprint.training.metrics import plot_curves, write_csv
from blueprint.training.schedule import config_learning_rate, set_learning_rate

NAN_CHECK_EVERY = 50  # steps between checks for a non-finite loss (each check waits for the device)
CURVES_EVERY_S = 30.0  # curves.png after the first and last epoch, and in between at most this often (a plot
# takes 0.2-0.8 s, as long as a whole epoch of the digits demo)


class TrainingError(FloatingPointError):
    """A run that cannot go on (a non-finite loss or weight): reported as one line by the command line."""


@dataclass
class RunResult:
    """What ``fit`` returns: the metrics rows, the best test accuracy, the model's cost and the data's size."""

    history: list[dict]
    best_acc: float
    params: int
    flops: int
    input_size: tuple[int, ...]
    test_images: int


def sync_buffers(model: nn.Module) -> None:
    """Give every process rank 0's buffers (BatchNorm statistics) so that all evaluate the saved model."""
    if dist.is_initialized():
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)


def evaluate(model: nn.Module, loader, device: torch.device, amp: bool = False) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over the test set (shared among the processes, summed over them)."""
    device = torch.device(device)
    model.eval()
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, correct
    count = 0
    with torch.no_grad(), devices.autocast(device, amp):
        for x, y in loader.test_batches():
            logits = model(x).float()  # B,classes
            loss = F.cross_entropy(logits, y, reduction="sum")
            sums += torch.stack([loss.double(), (logits.argmax(1) == y).sum().double()])
            count += len(y)
    loss, correct, count = distributed.all_sum(torch.cat([sums, sums.new_tensor([count])])).tolist()
    return loss / max(count, 1), correct / max(count, 1)


def train_epoch(
    net: nn.Module,
    penalty: OrthonormalLoss,
    loader,
    optimizer,
    scaler,
    config: TrainConfig,
    device: torch.device,
    epoch: int,
    show_progress: bool = True,
    distill=None,
) -> dict:
    """One pass over this process's share of the training set; returns means over all processes.

    ``net`` is what runs the batches (the model, wrapped by DDP or torch.compile), ``penalty`` the orthonormal
    loss of the plain model's W^B (left out of the loss when the model has none). With ``show_progress`` a
    ``blueprint.progress`` bar counts the steps, with the running loss and accuracy. ``distill`` (a
    ``distillation.Distillation``) mixes the cross-entropy with the teacher's on the same batch.
    """
    net.train()
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # cross-entropy sum, orthonormal-loss sum, correct
    count = 0

    def check(values, where):
        """Raise if the loss sums ``values`` (over all processes: every one decides alike) are not finite."""
        if not torch.isfinite(values[:2]).all():
            raise TrainingError(
                f"the loss became {values[0].item() / max(values[3].item(), 1):.4g} (not finite) {where} "
                f"at lr {optimizer.param_groups[0]['lr']:.4g}; lower `lr` or `alpha`, or try without `amp` "
                f"(last.pt, if written, holds the last finite epoch)"
            )

    def running():
        return f"loss {sums[0].item() / count:.4f} acc {sums[2].item() / count:.1%}" if count else ""

    bar = progress(loader.train_steps(), f"epoch {epoch + 1}/{config.epochs}", status=running, enabled=show_progress)

    for step, (x, y) in enumerate(loader.train_batches(epoch), 1):
        with devices.autocast(device, config.amp):
            logits = net(x)  # B,classes
            ce = F.cross_entropy(logits.float(), y)
            fitted = ce if distill is None else distill.loss(ce, logits, x)
        with torch.set_grad_enabled(config.alpha > 0):
            ortho = penalty()  # Eq. (9), in float32 outside autocast
        loss = fitted + config.alpha * ortho if penalty else fitted
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        batch = len(y)
        sums += torch.stack(
            [ce.detach().double() * batch, ortho.detach().double() * batch, (logits.argmax(1) == y).sum().double()]
        )
        count += batch
        if step % NAN_CHECK_EVERY == 0:  # a collective: every process reaches this step (the shards are padded)
            check(
                distributed.all_sum(torch.cat([sums, sums.new_tensor([count])])), f"in epoch {epoch + 1} by step {step}"
            )
        bar.update(1)
    bar.close()
    totals = distributed.all_sum(torch.cat([sums, sums.new_tensor([count])]))
    check(totals, f"in epoch {epoch + 1}")
    ce_sum, ortho_sum, correct, count = totals.tolist()
    return dict(train_loss=ce_sum / count, ortho_loss=ortho_sum / count, train_acc=correct / count, count=count)


def fit(
    config: TrainConfig,
    resume: bool = False,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    model: nn.Module | None = None,
    init_from=None,
    teacher=None,
) -> RunResult:
    """Train ``config.model`` (or ``model``, a module of your own) on ``config.dataset`` as ``config`` says; see
    the module docstring.

    ``init_from``: a baseline checkpoint path or trained module to convert into ``config.model`` (a new run);
    ``teacher``: a checkpoint path or module to distill from (``from_trained``). None: ``config.init_from`` and
    ``config.distill_from``; a path given here is written into the run's configuration (a resumed run finds its
    teacher there; one given as a module must be given again).

    ``resume``: continue from ``OUTPUT_DIR/last.pt``. Without it, an output folder that already holds a run is
    refused unless ``overwrite``. Under ``torchrun`` every process calls ``fit``; only rank 0 writes and logs.
    ``model``: trained in place of ``config.model``; the run records its class as ``module:Class``, a factory
    from which every command rebuilds it where the class can be imported (not one defined in ``__main__``).
    """
    if model is not None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected an nn.Module or None, got {type(model).__name__}")
        config = dataclasses.replace(config, model=f"{type(model).__module__}:{type(model).__qualname__}")
    config = dataclasses.replace(config, data_dir=os.path.abspath(config.data_dir))  # evaluate from anywhere
    config = from_trained.recorded(config, init_from, teacher)
    ctx = distributed.setup(config.device, cuda_ok=config.backend != "accel")
    threads = torch.get_num_threads()
    try:
        if config.threads:
            torch.set_num_threads(config.threads)
        with use_backend(config.backend), devices.kernel_settings(ctx.device, config.deterministic):
            result = _fit(
                config, resume, overwrite, ctx, log if ctx.main else (lambda _: None), model, init_from, teacher
            )
        # Rank 0 may still be writing and plotting: leave the process group together, or a process that tears
        # gloo down first aborts ("terminate called without an active exception").
        distributed.barrier()
        return result
    except KeyboardInterrupt as err:  # also SIGTERM under the command line (``blueprint.cli.Terminated``)
        raise type(err)(_kept(config)) from None
    finally:
        torch.set_num_threads(threads)
        distributed.teardown()


def _kept(config: TrainConfig) -> str:
    """What an interrupted run leaves in its folder, and how to go on."""
    path = os.path.join(config.output_dir, "last.pt")
    if not os.path.isfile(path):
        return f"no epoch was saved in {config.output_dir}; run the same command again to start afresh"
    return (
        f"{path} holds epoch {read_checkpoint(path).epoch}; continue with `resume=True` and "
        f"`output_dir={config.output_dir}`"
    )


def first_non_finite(model: nn.Module) -> str | None:
    """The name of the first parameter or buffer of ``model`` holding a NaN or an infinity, else None."""
    tensors = [(name, t) for name, t in model.state_dict().items() if t.is_floating_point()]
    if not tensors:
        return None
    finite = torch.stack([torch.isfinite(t).all() for _, t in tensors]).tolist()  # one synchronization
    return next((name for (name, _), ok in zip(tensors, finite) if not ok), None)


def _header(config: TrainConfig, cost, loader, ctx: distributed.Context) -> str:
    """The run's first line: the model's cost, the data, and everything that decides the speed."""
    switches = ", ".join(
        f"{name} {'on' if getattr(config, attr) else 'off'}"
        for name, attr in (("AMP", "amp"), ("channels-last", "channels_last"), ("compile", "compile"))
    )
    return (
        f"{config.model}: {cost.params:,} parameters, {cost.flops / 1e6:.2f} MFLOPs per "
        f"{'x'.join(map(str, loader.input_size))} image; {config.dataset}: {loader.num_train} training, "
        f"{loader.num_test} test images; {ctx.world} process(es) on {ctx.device}, backend {config.backend}, "
        f"{torch.get_num_threads()} CPU thread(s), {switches}"
    )


def _epoch_line(row: dict, epochs: int) -> str:
    return (
        f"epoch {row['epoch']:>3}/{epochs}  lr {row['lr']:.4g}  loss {row['train_loss']:.4f}  "
        f"ortho {row['ortho_loss']:.4f}  train {row['train_acc']:.2%}  test loss {row['test_loss']:.4f}  "
        f"test {row['test_acc']:.2%}  {row['images_per_s']:,.0f} img/s  {row['seconds']:.1f} s"
    )


def _warnings(config: TrainConfig, loader, device: torch.device) -> list[str]:
    """What the run was given that is allowed but probably not meant, one line each; and the first accel
    step's compile time, told before it happens."""
    said = []
    late = [m for m in config.milestones if m >= config.epochs] if config.schedule == "step" else []
    if late:
        said.append(
            f"milestones {', '.join(map(str, late))} lie at or after the last epoch ({config.epochs}): the "
            f"step schedule never reaches them"
        )
    if config.batch_size > loader.num_train:
        said.append(
            f"batch_size {config.batch_size} exceeds the {loader.num_train} training images: each epoch "
            f"is one step of {loader.num_train}"
        )
    if config.amp and device.type == "cpu":
        said.append(
            "amp on the CPU runs bfloat16 kernels, which are often several times slower than float32 there "
            "(try without amp)"
        )
    if config.backend == "accel":
        said.append(
            "backend accel: the first step compiles the Numba kernels (up to about a minute the first time; "
            "they are cached on disk for later runs)"
        )
    return [f"note: {line}" if line.startswith("backend") else f"warning: {line}" for line in said]


def _resumed(ckpt: dict, config: TrainConfig, last_path: str) -> str:
    """The header's note on a resumed run; a run that already has ``config.epochs`` epochs is refused."""
    done, before = epochs_of(ckpt)
    if config.epochs <= done:
        raise ValueError(
            f"epochs: {last_path} already holds {done} epochs; expected more than {done} to go on (got {config.epochs})"
        )
    replanned = f" (re-planned from {before})" if before != config.epochs else ""
    return (
        f"; resuming after epoch {done}: the {config.schedule} schedule of {config.epochs} epochs{replanned} "
        f"goes on at lr {config_learning_rate(config, done):.4g}"
    )


def _fit(
    config: TrainConfig,
    resume: bool,
    overwrite: bool,
    ctx: distributed.Context,
    log,
    own_model: nn.Module | None = None,
    init_from=None,
    teacher=None,
) -> RunResult:
    out = writable_folder(config.output_dir)
    last_path, best_path = os.path.join(out, "last.pt"), os.path.join(out, "best.pt")
    ckpt = load_checkpoint(last_path, "resume") if resume else None
    resumed = _resumed(ckpt, config, last_path) if ckpt else ""
    if not resume and not overwrite and os.path.exists(last_path):
        raise ValueError(
            f"output_dir: {out} already holds a run (last.pt); pass `resume=True` to continue it, "
            f"`overwrite=True` to start again, or another `output_dir`"
        )
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    random.seed(config.seed)
    loader = make_loader(config, ctx.device, ctx.rank, ctx.world)
    model = own_model if own_model is not None else build(config.model, loader.num_classes)
    try:
        cost = profile(model, loader.input_size)  # also a first forward pass: does the model take these images?
    except ValueError as err:
        size = "x".join(map(str, loader.input_size))
        raise ValueError(f"model: {config.model} cannot take the {size} images of {config.dataset} ({err})") from None
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(ctx.device, memory_format=memory_format)
    begin = from_trained.start(config, model, loader, memory_format, ckpt is not None, out, init_from, teacher)
    model = begin.model
    if config.sync_bn:
        if ctx.device.type != "cuda":
            raise ValueError(f"sync_bn: SyncBatchNorm synchronizes over GPUs, got `device={ctx.device}`")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # the same state_dict keys as BatchNorm
    model = model.to(ctx.device, memory_format=memory_format)
    optimizer = devices.sgd(model.parameters(), ctx.device, config.lr, config.momentum, config.weight_decay)
    scaler = devices.grad_scaler(ctx.device, config.amp)
    penalty = OrthonormalLoss(model)
    if ckpt is not None:
        start, best_acc, history = restore(
            ckpt, f"resume: {last_path}", model, optimizer, scaler, ctx.rank, ctx.world, ctx.device, config.seed
        )
    else:
        start, best_acc, history = 0, 0.0, []
        reseed(config.seed, 0, ctx.rank)  # per-process dropout; the weights are rank 0's (DDP broadcasts them)
    net = model
    if ctx.world > 1:
        # BatchNorm statistics are made rank 0's before every evaluation (sync_buffers), not at every step;
        # gradients live in DDP's buckets instead of being copied there and back.
        net = nn.parallel.DistributedDataParallel(
            model,
            device_ids=[ctx.device] if ctx.device.type == "cuda" else None,
            broadcast_buffers=False,
            gradient_as_bucket_view=True,
        )
    if config.compile:
        net = torch.compile(net)
    if ctx.main:
        os.makedirs(out, exist_ok=True)
        save_config(config, os.path.join(out, "config.json"))
        begin.save(out)
    log(_header(config, cost, loader, ctx) + (f"; {begin.told}" if begin.told else "") + resumed)
    for line in _warnings(config, loader, ctx.device):
        log(line)
    preprocessing = Preprocessing(tuple(loader.input_size), loader.mean, loader.std, loader.classes, loader.resize)
    plotted = time.perf_counter()
    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        lr = config_learning_rate(config, epoch)
        set_learning_rate(optimizer, lr)
        train = train_epoch(net, penalty, loader, optimizer, scaler, config, ctx.device, epoch, ctx.main, begin.distill)
        train_seconds = time.perf_counter() - began
        sync_buffers(model)
        test_loss, test_acc = evaluate(model, loader, ctx.device, config.amp)
        poisoned = first_non_finite(model)  # the same on every process: DDP's weights, rank 0's buffers
        if poisoned is not None or not math.isfinite(test_loss):
            what = f"{poisoned} holds non-finite values" if poisoned else f"the test loss is {test_loss:.4g}"
            kept = f"{last_path} holds epoch {epoch}, untouched" if epoch else "no checkpoint was written"
            raise TrainingError(
                f"{what} after epoch {epoch + 1} at lr {lr:.4g}; lower `lr` or `alpha`, or try without `amp` ({kept})"
            )
        row = dict(
            epoch=epoch + 1,
            lr=lr,
            train_loss=train["train_loss"],
            ortho_loss=train["ortho_loss"],
            train_acc=train["train_acc"],
            test_loss=test_loss,
            test_acc=test_acc,
            images_per_s=train["count"] / train_seconds,
            seconds=time.perf_counter() - began,
        )
        history.append(row)
        improved = test_acc > best_acc or epoch == 0
        best_acc = max(best_acc, test_acc)
        states = distributed.gather(rng_state(ctx.device))  # a collective: every process takes part
        if ctx.main:
            checkpoint = make_checkpoint(
                model,
                optimizer,
                scaler,
                epoch + 1,
                best_acc,
                history,
                states,
                dataclasses.asdict(config),
                config.model,
                loader.num_classes,
                preprocessing,
            )
            atomic_save(checkpoint, last_path)
            if improved:
                atomic_save(checkpoint, best_path)
            write_csv(history, os.path.join(out, "metrics.csv"))
            if epoch in (start, config.epochs - 1) or time.perf_counter() - plotted >= CURVES_EVERY_S:
                plot_curves(
                    {config.model: history}, os.path.join(out, "curves.png"), f"{config.model} on {config.dataset}"
                )
                plotted = time.perf_counter()
        log(_epoch_line(row, config.epochs))
    return RunResult(history, best_acc, cost.params, cost.flops, tuple(loader.input_size), loader.num_test)
