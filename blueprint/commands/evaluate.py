"""``blueprint evaluate CHECKPOINT``: test loss and accuracy of a ``blueprint train`` checkpoint."""
from __future__ import annotations

import dataclasses


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="test loss and accuracy of a checkpoint written by `blueprint train`",
        description="Evaluates a last.pt or best.pt on the test split of the data set it was trained on "
        "(the run's configuration is stored in the checkpoint).",
    )
    p.add_argument("checkpoint", help="a last.pt or best.pt")
    p.add_argument("--data-dir", help="where the data set is now (default: the one the run used)")
    p.add_argument("--model", help="load the weights into this zoo model instead of the one the run trained")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto, a GPU when PyTorch "
                   "sees one)")  # fmt: skip
    p.add_argument("--batch-size", type=int, help="evaluation batch size (default: the run's)")
    p.add_argument("--amp", action="store_true", help="mixed precision")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from blueprint.models import create
    from blueprint.training import TrainConfig, evaluate, load_checkpoint, recipe
    from blueprint.training.checkpoint import load_weights
    from blueprint.training.data import make_loader
    from blueprint.training.devices import resolve

    ckpt = load_checkpoint(args.checkpoint)
    saved = dict(ckpt.get("config") or {})
    if "dataset" not in saved:
        raise ValueError(f"checkpoint: {args.checkpoint} holds no run configuration")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in saved.items() if k in fields}
    # evaluation runs the layers on torch's kernels wherever the run trained (also a --backend accel run)
    overrides = {"data_dir": args.data_dir, "model": args.model, "device": args.device,
                 "batch_size": args.batch_size, "download": False, "backend": "torch", "compile": False}  # fmt: skip
    config = recipe(saved.pop("dataset"), **{**saved, **{k: v for k, v in overrides.items() if v is not None}})
    device = resolve(config.device)
    loader = make_loader(config, device)
    model = create(config.model, num_classes=loader.num_classes)
    load_weights(model, ckpt["model"], f"checkpoint {args.checkpoint} (a {ckpt.get('model_name')} checkpoint)")
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    loss, acc = evaluate(model.to(device, memory_format=memory_format), loader, device, args.amp)
    print(f"{args.checkpoint}: {config.model} after epoch {ckpt.get('epoch')} on {config.dataset} "
          f"({loader.num_test} test images): loss {loss:.4f}, accuracy {acc:.2%}")  # fmt: skip
    return 0
