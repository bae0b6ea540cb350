"""``blueprint verify``: the paper's equations and the backends' agreement, checked here on fresh cases.

Runs the entries of ``blueprint.verification.EQUATIONS`` that ``--equation`` and ``--backends`` choose (a flag
given twice adds its list to the first) on ``--cases`` random cases each (``blueprint.verification.engine``),
prints one row per entry (the worst case against its tolerance) and exits with 1 if any case disagrees or raises;
the seed and the first failing case are printed with the command that reruns that case exactly.
"""

from __future__ import annotations

DEFAULT_CASES = 20


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check the paper's equations and the backends' agreement on fresh random cases",
        description="Draws --cases random cases (shapes, strides, paddings, dilations, groups, dtypes, with and "
        "without bias) for each equation of the paper and each backend (the NumPy reference, its naive loops, "
        "accel, the PyTorch layers on the torch and the accel backend), measures the error against its tolerance "
        "and prints a table; exits with 1 on any disagreement, printing the seed and the failing case.",
    )
    p.add_argument("--cases", type=int, default=DEFAULT_CASES, help=f"cases per equation (default {DEFAULT_CASES})")
    p.add_argument("--seed", type=int, default=None, help="seed of the cases (default: a fresh one, printed)")
    p.add_argument(
        "--backends",
        nargs="+",
        action="extend",
        default=None,
        metavar="BACKEND",
        help="run only the entries whose backends are all among these: reference, naive, accel, torch, "
        "torch-accel; repeated, the lists add up (default: all)",
    )
    p.add_argument(
        "--equation",
        nargs="+",
        action="extend",
        default=None,
        metavar="KEY",
        help="entry keys or shell-style patterns, e.g. eq3 'bsconv_u-*'; repeated (--equation eq3 --equation eq9), "
        "the lists add up (default: every entry)",
    )
    p.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    p.set_defaults(func=run, fields={"keys": "--equation"})


def run(args) -> int:
    from blueprint import verification
    from blueprint.paths import writable_file

    writable_file(args.json, "--json")
    equations = verification.select(verification.EQUATIONS, args.equation, args.backends)
    seed = verification.fresh_seed(args.seed)
    summaries, results = [], verification.run(equations, seed, args.cases)
    print(f"blueprint verify: seed {seed}, {args.cases} cases for each of {len(equations)} entries", flush=True)
    try:
        for summary in results:
            summaries.append(summary)
    finally:  # an interrupted run still reports (and writes) the entries it finished
        print(verification.table(summaries))
        if args.json is not None:
            verification.write_json(args.json, seed, args.cases, summaries)
    return report(summaries, seed, args.cases)


def report(summaries, seed: int, cases: int) -> int:
    """The verdict line (and the rerun command of the first failing case); the exit code."""
    failed = [s for s in summaries if not s.passed]
    if not failed:
        print(f"all {len(summaries)} entries hold on {cases} cases each (seed {seed})")
        return 0
    first = failed[0].first_failure
    print(
        f"{len(failed)} of {len(summaries)} entries disagree. First failing case: {failed[0].key} case {first['case']} "
        f"(seed {seed}): {first['shapes']}" + (f"; {first['message']}" if first["message"] else "")
    )
    print(f"rerun it: blueprint verify --seed {seed} --equation {failed[0].key} --cases {first['case'] + 1}")
    return 1
