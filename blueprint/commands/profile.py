"""``blueprint profile NAME``: parameters and multiply-adds per layer and in total (see ``blueprint.profiling``)."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "profile",
        help="parameters and FLOPs (multiply-adds) per layer and in total",
        description="Runs one forward pass and counts parameters and multiply-adds of convolutions and linear "
        "layers per layer (the convention is in blueprint/profiling.py).",
    )
    p.add_argument("name", help="a zoo name (see `blueprint models`) or a file holding a pickled module")
    p.add_argument("--input-size", type=int, nargs=3, metavar=("C", "H", "W"),
                   help="input size (default: 3 32 32 for cifar_* models, else 3 224 224)")  # fmt: skip
    p.add_argument("--num-classes", type=int, default=None,
                   help="classes of the zoo model (default: 10 for cifar_* and digits_* names, else 1000)")
    p.add_argument("--include-norm-act", action="store_true",
                   help="also count 1 op per output element of normalization and activation layers")  # fmt: skip
    p.add_argument("--summary", action="store_true", help="print only the totals, not the per-layer table")
    p.set_defaults(func=run, fields={"source": "NAME"})


def run(args) -> int:
    from blueprint.analysis.sources import default_input_size, load_source
    from blueprint.profiling import profile

    model = load_source(args.name, num_classes=args.num_classes)
    if not hasattr(model, "forward"):
        raise ValueError(f"name: {args.name!r} holds only weights (a state_dict); expected a zoo name or a module")
    input_size = tuple(args.input_size) if args.input_size else default_input_size(args.name)
    result = profile(model, input_size, include_norm_act=args.include_norm_act)
    if not args.summary:
        print(result.table())
    ops = "multiply-adds, norm/act included" if args.include_norm_act else "multiply-adds"
    print(f"{args.name}: input {'x'.join(map(str, input_size))}, {result.params:,} parameters, "
          f"{result.flops / 1e6:.2f} MFLOPs ({ops})")  # fmt: skip
    return 0
