"""The ``bpcourse`` command line: ``bpcourse --help`` lists the subcommands."""

import argparse
import sys

from . import __version__


def build_parser():
    parser = argparse.ArgumentParser(
        prog="bpcourse",
        description="Backpropagation, step by step: the course's command-line tools.",
    )
    parser.add_argument("--version", action="version", version=f"bpcourse {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    from . import assign, launch
    from .grading import bundle, grade

    launch.add_parser(subparsers)
    assign.add_parser(subparsers)
    grade.add_parser(subparsers)
    bundle.add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
