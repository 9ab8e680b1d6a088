"""The ``prsm`` command line. Exit codes: 0 success, 2 bad input (one line on stderr), 1 failure."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prsm", description="PRSM Distill: distil large models into small ones.")
    parser.add_argument("--version", action="version", version=f"prsm {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
