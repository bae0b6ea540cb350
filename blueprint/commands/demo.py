"""``blueprint demo``: a baseline CNN against its BSConv-U counterpart on scikit-learn's digits, on the CPU.

Both models train with the same protocol (the ``digits`` recipe: SGD, momentum 0.9, lr decayed linearly to
zero, Sec. 5.3's schedule) on the 1,797 bundled 8x8 digits (no download). The table compares parameters,
FLOPs (multiply-adds per image, ``blueprint.profiling``), test accuracy and training throughput; the curves
go to ``OUTPUT_DIR/demo.png`` and each run's files (metrics.csv, checkpoints) to ``OUTPUT_DIR/MODEL/``.
"""

from __future__ import annotations

import os
import statistics
import time

MODELS = ("digits_cnn", "digits_cnn_bsconvu")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="train a baseline CNN and its BSConv-U counterpart on the bundled digits and compare them",
        description="Trains a baseline CNN and its BSConv-U counterpart on scikit-learn's bundled 8x8 digits "
        "(no download) on the CPU, prints parameters, FLOPs, test accuracy and images/s, and saves the curves.",
    )
    p.add_argument(
        "--output-dir", default=os.path.join("runs", "demo"), help="where plots and runs go (default: %(default)s)"
    )
    p.add_argument("--epochs", type=int, default=30, help="epochs per model (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="2 epochs per model: a smoke run of a few seconds")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo names (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialization and data order (default: 0)")
    p.set_defaults(func=run, fields={"model": "--models"})


def run(args) -> int:
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    epochs = 2 if args.quick else args.epochs
    if not models:
        raise ValueError(f"models: expected comma-separated zoo names, got {args.models!r}")
    from blueprint.paths import writable_folder

    writable_folder(args.output_dir)
    from blueprint.tables import format_table
    from blueprint.training import fit, recipe
    from blueprint.training.metrics import plot_curves

    configs = {
        name: recipe(
            "digits", model=name, epochs=epochs, seed=args.seed, output_dir=os.path.join(args.output_dir, name)
        )
        for name in models
    }  # all checked first
    results = {}
    for name, config in configs.items():
        print(f"== {name}")
        began = time.perf_counter()
        results[name] = (fit(config, overwrite=True), time.perf_counter() - began)
    header = ["model", "parameters", "MFLOPs/image", "test accuracy", "train images/s", "seconds"]
    rows = []
    for name, (result, seconds) in results.items():
        images_per_s = statistics.median(r["images_per_s"] for r in result.history)
        rows.append(
            [
                name,
                f"{result.params:,}",
                f"{result.flops / 1e6:.3f}",
                f"{result.history[-1]['test_acc']:.2%}",
                f"{images_per_s:,.0f}",
                f"{seconds:.1f}",
            ]
        )
    plot = os.path.join(args.output_dir, "demo.png")
    plot_curves(
        {name: result.history for name, (result, _) in results.items()},
        plot,
        f"scikit-learn digits, {epochs} epochs: baseline vs BSConv-U",
    )
    print()
    print(format_table(header, rows))
    test_images = next(iter(results.values()))[0].test_images
    print(
        f"\nFLOPs are multiply-adds per image; images/s is the median training throughput over the epochs. One of "
        f"the {test_images} test images is {100 / test_images:.2f} accuracy points: a point is within a seed's noise."
    )
    print(f"curves: {plot}; per-model metrics.csv and checkpoints under {args.output_dir}/")
    return 0
