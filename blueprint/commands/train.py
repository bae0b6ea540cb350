"""``blueprint train``: train a model with the paper's protocol for a data set (see ``blueprint.training``).

``--model`` (a zoo name or ``package.module:factory``) is required (a new run); ``--print-config`` prints the
effective configuration and runs nothing; flags left out take the recipe's value (``blueprint.training.config``), or
with ``--resume`` the value saved in ``OUTPUT_DIR/config.json``. The flags are the fields of ``TrainConfig``, their
help its fields' metadata (``add_config_flags``). Several processes:
``torchrun --nproc-per-node N -m blueprint.cli train ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from blueprint.training.config import TrainConfig


def _milestones(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs such as 100,150,180, got {text!r}") from None


# a field's annotation (a string: the config module has postponed annotations) -> the flag's type
TYPES = {"str": str, "str | None": str, "int": int, "float": float, "int | None": int, "list[int]": _milestones}


def add_config_flags(p: argparse.ArgumentParser) -> list[str]:
    """A flag for every ``TrainConfig`` field, with the field's help text; returns the field names. Each flag
    defaults to None, meaning "the recipe's value" (or with --resume the run's); a bool field is a switch
    with its ``--no-`` form."""
    names = []
    for f in dataclasses.fields(TrainConfig):
        flag, text = "--" + f.name.replace("_", "-"), f.metadata["help"]
        if f.type == "bool":
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            p.add_argument(flag, dest=f.name, type=TYPES[f.type], default=None, help=text)
        names.append(f.name)
    return names


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a zoo model or your own with the paper's protocol (CIFAR, ImageNet, fine-grained, digits, "
        "your folder)",
        description="Trains a zoo model or your own (package.module:factory) with the paper's protocol for the data "
        "set (Sec. 5). Flags left out take "
        "the recipe's value, or with --resume the run's. Several processes: torchrun --nproc-per-node N "
        "-m blueprint.cli train ...",
    )
    fields = add_config_flags(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --output-dir from its last.pt")
    p.add_argument("--overwrite", action="store_true", help="start afresh in an --output-dir that holds a run")
    p.add_argument("--print-config", action="store_true", help="print the effective configuration as JSON, run nothing")
    p.set_defaults(func=run, parser=p, config_fields=fields)


def run(args) -> int:
    if args.model is None and not args.resume and not args.print_config:
        args.parser.error(
            "--model: required for a new run (a zoo name, see `blueprint models`, or package.module:factory)"
        )
    from blueprint.training import effective_config, fit
    from blueprint.training.config import DATASETS, recipe_line

    overrides = {name: getattr(args, name) for name in args.config_fields if getattr(args, name) is not None}
    config = effective_config(overrides, resume=args.resume)
    if args.print_config:
        print(config.to_json())
        return 0
    if DATASETS[config.dataset] == "folder":
        print(recipe_line(config.dataset) + " (each overridden by its flag)")
    result = fit(config, resume=args.resume, overwrite=args.overwrite)
    if result.history and int(os.environ.get("RANK", "0")) == 0:
        last = result.history[-1]
        print(
            f"done: test accuracy {last['test_acc']:.2%} after epoch {last['epoch']}, best {result.best_acc:.2%}; "
            f"results in {config.output_dir}"
        )
    return 0
