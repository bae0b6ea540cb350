"""``blueprint models [PATTERN]``: the zoo's names with their parameter counts.

The counts come from the table shipped with the zoo (``blueprint.models.parameters``), so the whole listing
takes no time; another ``--num-classes`` builds each listed model on PyTorch's ``meta`` device (shapes only);
``--names-only`` skips the counts.
"""

from __future__ import annotations

from blueprint.commands import add_num_classes


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "models",
        help="list the model zoo's names with parameter counts",
        description="Lists the registered model names (optionally those matching a shell-style PATTERN such as "
        "'cifar_resnet*' or '*bsconvu') with their parameter counts.",
    )
    p.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. 'cifar_wrn40_*' (default: all)")
    add_num_classes(p)
    p.add_argument("--names-only", action="store_true", help="print only the names, without counting parameters")
    p.set_defaults(func=run)


def run(args) -> int:
    from blueprint.models import list_models
    from blueprint.models.parameters import parameter_count

    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"pattern: no model name matches {args.pattern!r}; run `blueprint models` for the list")
    if args.names_only:
        print("\n".join(names))
        return 0
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {parameter_count(name, args.num_classes):>13,}", flush=True)
    classes = args.num_classes or "the default number of classes: 10 for cifar_* and digits_* names, else 1000"
    print(f"{len(names)} models, parameters for {classes}" + (" classes" if args.num_classes else ""))
    return 0
