"""``tailq``: argparse over plain functions. Maps user errors to one line and exit code 2."""

import argparse
import sys

from .._errors import RunAborted, RunFailed, UserError
from .._version import __version__
from . import (_adapt, _analyze, _audit, _check, _compare, _compare_systems, _estimate, _export,
               _full, _harnesses, _import, _plan, _profile, _report, _route, _run, _show)

COMMANDS = (_run, _show, _export, _harnesses, _analyze, _estimate, _full, _compare, _report,
            _import, _check, _compare_systems, _audit, _profile, _route, _plan, _adapt)


class _Help(argparse.HelpFormatter):
    """Each flag's help ends with its default, unless it has none worth saying."""

    def _get_help_string(self, action):
        text = action.help or ""
        d = action.default
        if action.required or "default" in text or d is None or d is False or d == [] \
                or d is argparse.SUPPRESS:
            return text
        return text + " (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message):  # argparse's own errors: one line, exit 2, like ours
        raise UserError(f"{self.prog}: {message} (see --help)")


def build_parser():
    parser = _Parser(prog="tailq", description="Tail quality for MLPerf LoadGen runs.")
    parser.add_argument("--version", action="version", version=f"tailq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for cmd in COMMANDS:
        cmd.add_parser(sub)
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return args.func(args) or 0
    except UserError as exc:
        print(f"tailq: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (RunAborted, RunFailed) as exc:
        print(f"tailq: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tailq: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
