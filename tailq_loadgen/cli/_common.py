"""Argument helpers shared by the subcommands."""


def add_harness_args(p):
    p.add_argument("--harness", required=True, help="harness name (`tailq harnesses`) or module:function")
    p.add_argument("--harness-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter passed to the harness factory (repeatable)")


def harness_from_args(args):
    import harnesses  # the registry imports no framework until a harness is built

    return harnesses.get_harness(args.harness, **harnesses.parse_harness_args(args.harness_arg))
