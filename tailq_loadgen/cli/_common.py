"""Argument helpers shared by the subcommands."""


def add_harness_args(p):
    p.add_argument("--harness", required=True, help="harness name (`tailq harnesses`) or module:function")
    p.add_argument("--harness-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter passed to the harness factory (repeatable)")


def harness_from_args(args):
    import harnesses  # the registry imports no framework until a harness is built

    return harnesses.get_harness(args.harness, **harnesses.parse_harness_args(args.harness_arg))


class progress_bar:
    """A tqdm bar on stderr that shows itself only when the work takes over a second."""

    def __init__(self, desc, unit="step"):
        self.desc, self.unit, self.bar = desc, unit, None

    def __enter__(self):
        return self

    def __call__(self, done, total):
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, delay=1.0, leave=False)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
