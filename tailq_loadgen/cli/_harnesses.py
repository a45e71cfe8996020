"""``tailq harnesses``: one line per harness: name, task, runtime, metric, size, needs."""


def add_parser(sub):
    p = sub.add_parser("harnesses", help="list the built-in harnesses")
    p.set_defaults(func=main)


def main(args):
    from .. import harnesses

    for spec in harnesses.list_harnesses():
        print(spec.line())
