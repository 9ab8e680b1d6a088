"""``prsm catalog`` (list the teachers with their status) and ``prsm catalog build NAME``.

``add_parser(subparsers)`` adds the command to the ``prsm`` parser; every parser it makes sets
``handler``, a function of the parsed arguments that returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import BadInput
from .registry import CATALOG_NAMES, catalog_build, catalog_dir, catalog_list


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("catalog", help="list or build the catalog teachers",
                                   description=f"Catalog teachers, built locally and cached in {catalog_dir()} "
                                               "(set PRSM_HOME to move the cache).")
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    parser.set_defaults(handler=run_list)
    actions = parser.add_subparsers(dest="catalog_command", metavar="ACTION")
    build = actions.add_parser("build", help="build a catalog teacher", description="Build a catalog teacher.")
    build.add_argument("name", choices=CATALOG_NAMES, metavar="NAME", help=f"one of {', '.join(CATALOG_NAMES)}")
    build.add_argument("--quick", action="store_true", help="train on a subset with fewer steps (tests, demos)")
    build.add_argument("--force", action="store_true", help="rebuild even when already built")
    build.add_argument("--json", action="store_true", help="print the teacher's catalog.json when done")
    build.set_defaults(handler=run_build)
    return parser


def run_list(args: argparse.Namespace) -> int:
    rows = catalog_list()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'NAME':<18} {'TASK':<8} {'DATA':<22} {'PARAMS':>12} {'STATUS':<10} ACCURACY")
    for row in rows:
        accuracy = "" if row["accuracy"] is None else f"{row['accuracy']:.2%}" + (" (quick)" if row["quick"] else "")
        print(f"{row['name']:<18} {row['task']:<8} {row['dataset']:<22} {row['params']:>12,} "
              f"{row['status']:<10} {accuracy}")
    print(f"\nbuild one with: prsm catalog build NAME   (cache: {catalog_dir()})")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=f"{args.name}: {stage}", unit="step", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    try:
        folder = catalog_build(args.name, progress=progress, quick=args.quick, force=args.force)
    except BadInput as error:
        print(f"prsm catalog build: {error}", file=sys.stderr)
        return 2
    finally:
        for bar in bars.values():
            bar.close()
    card = json.loads((folder / "catalog.json").read_text())
    verb = "built" if bars else "already built (--force rebuilds it)"
    if args.json:
        print(json.dumps(card, indent=2))
    else:
        print(f"{args.name}: {verb} in {folder} (held-out accuracy {card['accuracy']:.2%} on {card['heldout']['size']} "
              f"examples, {card['params']:,} parameters, {card['build_seconds']} s)")
    return 0
