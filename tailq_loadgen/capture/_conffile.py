"""LoadGen's ``model.scenario.key = value`` files (mlperf.conf, user.conf, audit.config).

LoadGen reads these itself (``TestSettings.FromConfig``); this module reads them too, without
LoadGen, for three things LoadGen does not do:

* say *which line* is malformed (LoadGen only returns -EINVAL);
* warn about keys that silently do nothing for this run: a model part that is not the
  model name LoadGen matches on (the usual slip: the harness name ``digits-torch`` for the
  model ``digits-cnn``), a scenario that does not exist, a key LoadGen does not know, or a
  key LoadGen reads from mlperf.conf only (seeds);
* apply the seeds of a ``--mlperf_conf FILE``: LoadGen reads seeds only from its built-in
  copy (``conf_type=0`` ignores the path), so a file's seeds would otherwise be lost.

The grammar is LoadGen's own (``test_settings_internal.cc``): whitespace-separated tokens,
a lone ``#`` token starts a comment (``#x`` does not), the value must be a whole integer or
double token, and a comment after the value is an error. Lookup order for a key is
``model.scenario``, ``*.scenario``, ``model.*``, ``*.*``.
"""

import dataclasses

from .._errors import UserError

SCENARIO_NAMES = ("SingleStream", "MultiStream", "Server", "Offline")

# Every key FromConfig looks up (LoadGen 6.0.17), and the TestSettings attribute it sets
# with the factor applied to the value. Keys marked ``mlperf_conf_only`` are read only
# from the built-in mlperf.conf (conf_type 0).
KEYS = {
    "mode": None,
    "qsl_rng_seed": ("qsl_rng_seed", 1, True),
    "sample_index_rng_seed": ("sample_index_rng_seed", 1, True),
    "schedule_rng_seed": ("schedule_rng_seed", 1, True),
    "accuracy_log_probability": ("accuracy_log_probability", 0.01, True),
    "test05": ("test05", 1, True),
    "test05_qsl_rng_seed": ("test05_qsl_rng_seed", 1, True),
    "test05_sample_index_rng_seed": ("test05_sample_index_rng_seed", 1, True),
    "test05_schedule_rng_seed": ("test05_schedule_rng_seed", 1, True),
    "use_token_latencies": None, "ttft_latency": None, "tpot_latency": None,
    "infer_token_latencies": None, "token_latency_scaling_factor": None,
    "target_latency_percentile": None, "samples_per_query": None, "target_latency": None,
    "performance_issue_unique": None, "performance_issue_same": None,
    "performance_issue_same_index": None, "sample_concatenate_permutation": None,
    "coalesce_queries": None, "max_async_queries": None, "min_duration": None,
    "max_duration": None, "min_query_count": None, "max_query_count": None,
    "performance_sample_count_override": None, "accuracy_sample_count_override": None,
    "target_qps": None, "print_timestamps": None, "accuracy_log_rng_seed": None,
    "accuracy_log_sampling_target": None,
    "target_duration": None,  # written in LoadGen's own mlperf.conf, looked up by none
}


@dataclasses.dataclass(frozen=True)
class ConfEntry:
    line: int
    model: str
    scenario: str
    key: str
    value: str

    @property
    def name(self):
        return f"{self.model}.{self.scenario}.{self.key}"


def _is_number(token):
    for cast in (lambda t: int(t, 0), float):
        try:
            cast(token)
            return True
        except ValueError:
            pass
    return False


def _int(text):
    try:
        return int(text, 0)
    except ValueError:  # strtoull takes "010" as octal and stops at a decimal point
        return int(float(text))


def parse_conf(path, flag):
    """The entries of a LoadGen conf file; a malformed line is a UserError naming it."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot read it ({exc.strerror}); give the path of a "
                        "LoadGen config file") from None
    entries = []
    for number, text in enumerate(lines, 1):
        tokens = text.split()
        if not tokens or tokens[0] == "#":
            continue
        if len(tokens) < 3 or tokens[1] != "=":
            raise UserError(f"{flag} {path}:{number}: expected `model.scenario.key = value`, "
                            f"got {text.strip()!r}")
        values = tokens[2:]
        if any(not _is_number(v) for v in values):
            raise UserError(f"{flag} {path}:{number}: the value must be a number and nothing "
                            "may follow it (LoadGen rejects a comment after the value), got "
                            f"{' '.join(values)!r}")
        parts = tokens[0].rsplit(".", 2)
        if len(parts) != 3 or not all(parts):
            raise UserError(f"{flag} {path}:{number}: the key must read model.scenario.key "
                            f"(use * for any model or scenario), got {tokens[0]!r}")
        entries.append(ConfEntry(number, parts[0], parts[1], parts[2], values[-1]))
    return entries


def lookup(entries, model, scenario, key):
    """The value LoadGen would use for ``key`` (its own precedence), or None."""
    table = {e.name: e.value for e in entries}  # a later line wins, as in LoadGen's map
    for m, s in ((model, scenario), ("*", scenario), (model, "*"), ("*", "*")):
        if f"{m}.{s}.{key}" in table:
            return table[f"{m}.{s}.{key}"]
    return None


def unmatched_keys(entries, *, model, harness_name=None, path="", flag="--user_conf"):
    """Warnings (one line each) for keys that do nothing in a run of ``model``/``scenario``.

    Warned about: an unknown key; a key LoadGen reads from mlperf.conf only; an unknown
    scenario; a key written for the harness's name instead of its model name (the usual
    slip). A key for another model is warned about only when no key of the file names this
    run's model (``*`` keys do not count): a file that names this model is taken to serve several
    (the project's user.conf serves every built-in harness), one that does not is a slip.
    Keys for another scenario of this model are never warned about.
    """
    out = []
    addressed = any(e.model == model for e in entries)
    where = f"{flag} {path}".strip()
    for e in entries:
        at = f"{where}:{e.line}: {e.name}"
        if e.key not in KEYS:
            out.append(f"{at}: LoadGen knows no key {e.key!r}; it is ignored")
        elif KEYS[e.key] and KEYS[e.key][2]:
            out.append(f"{at}: LoadGen reads {e.key} from mlperf.conf only; in a user.conf it "
                       "is ignored (use --mlperf_conf)")
        elif e.scenario != "*" and e.scenario not in SCENARIO_NAMES:
            out.append(f"{at}: no scenario is called {e.scenario!r} (LoadGen's are "
                       f"{', '.join(SCENARIO_NAMES)}); the key is ignored")
        elif e.model in ("*", model):
            continue
        elif harness_name and e.model == harness_name:
            out.append(f"{at}: LoadGen matches keys on the model name {model!r}, not the "
                       f"harness name {harness_name!r}; this key has no effect (write "
                       f"{model}.{e.scenario}.{e.key})")
        elif not addressed:
            out.append(f"{at}: matches no model of this run (LoadGen matches on the model "
                       f"name {model!r}); the key has no effect")
    return out


def mlperf_conf_only_values(entries, model, scenario):
    """``{attribute: value}`` for the keys LoadGen reads only from its built-in mlperf.conf."""
    out = {}
    for key, spec in KEYS.items():
        if not spec or not spec[2]:
            continue
        text = lookup(entries, model, scenario, key)
        if text is None:
            continue
        attr, factor, _ = spec
        if attr == "test05":
            out[attr] = _int(text) == 1
        elif factor == 1:
            out[attr] = _int(text)
        else:
            out[attr] = float(text) * factor
    return out


def audit_test_name(entries):
    """Which MLPerf compliance test an audit.config sets up, from the keys it sets."""
    keys = {e.key: e.value for e in entries}
    if keys.get("performance_issue_same", "0") not in ("0", "0.0"):
        return "TEST04"
    if "accuracy_log_sampling_target" in keys:
        # TEST06 (LLM output consistency) samples a fixed 100 queries with no minimum
        # duration; TEST01 samples the performance run's responses.
        return "TEST06" if keys.get("min_duration") in ("0",) and "min_query_count" in keys \
            else "TEST01"
    return None
