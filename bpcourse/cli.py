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
    from .workspace import commands

    launch.add_parser(subparsers)
    commands.add_parsers(subparsers)
    assign.add_parser(subparsers)
    grade.add_parser(subparsers)
    bundle.add_parser(subparsers)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after the first "--" belongs to the program a command starts (jupyter lab
    # for `bpcourse open`): argparse would take it for positional arguments of ours.
    extra = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"bpcourse {args.command} takes no options after --")
    args.extra = extra
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
