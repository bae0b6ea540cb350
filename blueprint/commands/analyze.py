"""``blueprint analyze MODEL``: Sec. 3.1's kernel-correlation analysis of a model, with figures and a table."""

from __future__ import annotations

from blueprint.commands import add_num_classes


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="PC1 explained variance of every filter, by stage (Sec. 3.1, Fig. 2 and 3)",
        description="Per filter, the variance of its depth slices explained by the first principal component, "
        "grouped by stage; writes a Fig. 3-style histogram and a Fig. 2-style slice figure and prints a table.",
    )
    p.add_argument(
        "source",
        metavar="MODEL",
        help="a checkpoint, state_dict or module file, or a zoo name (see `blueprint models`): "
        "a zoo name alone is a freshly initialized model, its weights random",
    )
    p.add_argument(
        "--model",
        help="zoo architecture to load the weights of MODEL into (stages by resolution; "
        "default: the one a `blueprint train` checkpoint names)",
    )
    add_num_classes(p)
    p.add_argument(
        "--input-size",
        type=int,
        nargs=3,
        metavar=("C", "H", "W"),
        help="input for the forward pass that finds each conv's stage "
        "(default: 3 32 32 for cifar_* models, else 3 224 224)",
    )
    p.add_argument("--output-dir", default="analysis", help="folder for the figures (default: ./analysis)")
    p.add_argument("--layer", help="the layer drawn in the slice figure (default: first with >= 8 slices)")
    p.add_argument("--filter", type=int, help="0-based filter index in --layer (default: largest PC1 share)")
    p.add_argument("--bins", type=int, default=20, help="histogram bins (default: 20)")
    p.set_defaults(func=run, fields={"filter_index": "--filter", "source": "MODEL"})


def run(args) -> int:
    if args.bins < 1:
        raise ValueError(f"bins: expected a positive int, got {args.bins}")
    from blueprint.paths import writable_folder

    writable_folder(args.output_dir)
    from blueprint.analysis import analyze_kernels, default_input_size, write_analysis
    from blueprint.sources import open_source

    source = open_source(args.source, model=args.model, num_classes=args.num_classes)
    input_size = (
        tuple(args.input_size)
        if args.input_size
        else source.input_size or default_input_size(source.name or args.source)
    )
    result = analyze_kernels(source.obj, input_size=input_size)
    title = source.name if source.name and not source.random_weights else args.source
    files = write_analysis(
        result, args.output_dir, title=title, layer=args.layer, filter_index=args.filter, bins=args.bins
    )
    if source.random_weights:
        print(
            f"{args.source}: a freshly initialized zoo model, its weights random (not trained): pass a checkpoint "
            f"for a trained model's correlations"
        )
    elif source.name:
        print(f"{args.source}: weights of a {source.name}")
    print(f"{title}: PC1 explained variance per filter, stages by {result.stage_by}")
    print(result.table())
    print(f"wrote {files.histogram}")
    print(f"wrote {files.slices} (layer {files.layer}, filter n={files.filter_index}, 0-based)")
    return 0
