"""``tailq harnesses``: one line per harness: name, model (what user.conf keys match), task,
runtime, metric, size, and whether its runtime is installed."""


def add_parser(sub):
    p = sub.add_parser("harnesses", help="list the built-in harnesses")
    p.set_defaults(func=main)


def main(args):
    from .. import harnesses

    print(harnesses.HEADER)
    for spec in harnesses.list_harnesses():
        print(spec.line())
