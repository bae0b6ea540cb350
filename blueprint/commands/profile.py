"""``blueprint profile MODEL``: parameters and multiply-adds per layer and in total (see ``blueprint.profiling``)."""

from __future__ import annotations

from blueprint.commands import add_num_classes


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "profile",
        help="parameters and FLOPs (multiply-adds) per layer and in total",
        description="Runs one forward pass and counts parameters and multiply-adds of convolutions and linear "
        "layers per layer (the convention is in blueprint/profiling.py).",
    )
    p.add_argument(
        "source",
        metavar="MODEL",
        help="a zoo name (see `blueprint models`), package.module:factory, a "
        "checkpoint of `blueprint train` (its input size is used) or a file holding a pickled module",
    )
    p.add_argument(
        "--input-size",
        type=int,
        nargs=3,
        metavar=("C", "H", "W"),
        help="input size (default: a checkpoint's, else 3 32 32 for cifar_* models, else 3 224 224)",
    )
    add_num_classes(p)
    p.add_argument(
        "--include-norm-act",
        action="store_true",
        help="also count 1 op per output element of normalization and activation layers",
    )
    p.add_argument("--summary", action="store_true", help="print only the totals, not the per-layer table")
    p.set_defaults(func=run, fields={"source": "MODEL"})


def run(args) -> int:
    from blueprint.profiling import profile
    from blueprint.sources import default_input_size, open_source

    source = open_source(args.source, num_classes=args.num_classes)
    model = source.obj
    if not hasattr(model, "forward"):
        raise ValueError(
            f"source: {args.source!r} holds only weights (a state_dict); expected a zoo name, a checkpoint or a module"
        )
    input_size = (
        tuple(args.input_size)
        if args.input_size
        else source.input_size or default_input_size(source.name or args.source)
    )
    result = profile(model, input_size, include_norm_act=args.include_norm_act)
    if not args.summary:
        print(result.table())
    ops = "multiply-adds, norm/act included" if args.include_norm_act else "multiply-adds"
    print(
        f"{args.source}: input {'x'.join(map(str, input_size))}, {result.params:,} parameters, "
        f"{result.flops / 1e6:.2f} MFLOPs ({ops})"
    )
    return 0
