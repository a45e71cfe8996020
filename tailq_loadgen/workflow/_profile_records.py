"""Profiles → the records the routing and planning rooms take (they read no files).

Both rooms are pure and define their own inputs; this is the one place that builds those
from captured :class:`~._profile.Profile` records, so that neither room depends on how
profiles are stored. Times become seconds, as both rooms count them.
"""

import numpy as np

from ._profile import ProfileError


def routing_variant(profile, servers, joint=True):
    """A ``routing.Variant`` with ``servers`` servers, from a batch-1 profile.

    ``joint=True``: the service law is the profile's observations resampled with their
    correctness (``routing.Empirical(times, correct)``), so a slow sample is right or wrong as
    measured; the variant's accuracy is then the share correct *among the observations*,
    which differs from ``profile.accuracy`` (every sample once) by which samples the
    performance test happened to draw. ``joint=False``: service times of every query, and
    the exact accuracy, taken as independent (right for variants whose service time does
    not depend on the sample, such as the synthetic and digits families)."""
    from .. import routing

    if profile.batch_size != 1:
        raise ProfileError(f"profile {profile.variant} (batch {profile.batch_size}): a pool server "
                           "serves one query at a time; give its batch-1 profile")
    if not joint:
        return routing.Variant(profile.variant, servers,
                               routing.Empirical(profile.service_ns / 1e9), profile.accuracy)
    latency, score = profile.observations()
    if not np.all((score == 0) | (score == 1)):
        raise ProfileError(f"profile {profile.variant}: its metric gives partial credit, which "
                           "a correct/wrong draw cannot carry; use joint=False")
    return routing.Variant(profile.variant, servers,
                           routing.Empirical(latency / 1e9, score.astype(bool)))


def planning_profiles(profiles, stage="main"):
    """``planning.VariantProfile`` records, one per variant of ``profiles`` (in the order they
    first appear), each with the service samples of every (batch size, threads) profiled.
    Its stage is the profiles' own (``tailq profile`` of a pipeline's stage variant records
    it), else ``stage``.

    A profile without threads (a runtime that has none) counts as one thread. Correctness is
    the lowest (threads, batch) profile's: the same model gives the same answers at every
    batch size, up to rounding. Capacity entries become ``CapacityPoint`` records (their
    cores, or the profile's threads when they name none)."""
    from .. import planning

    by_variant = {}
    for p in profiles:
        by_variant.setdefault(p.variant, []).append(p)
    out = []
    for name, group in by_variant.items():
        keys = [(p.batch_size, p.threads or 1) for p in group]
        if len(set(keys)) != len(keys):
            raise ProfileError(f"variant {name}: two profiles at the same (batch, threads); keep one")
        service = tuple(planning.ServiceSamples(p.batch_size, p.threads or 1, p.service_ns / 1e9)
                        for p in group)
        first = min(group, key=lambda p: (p.threads or 1, p.batch_size))
        capacity = tuple(planning.CapacityPoint(c.cores or p.threads or 1, c.qps, c.slo_ns / 1e9)
                         for p in group for c in p.capacity)
        stages = {p.stage for p in group if p.stage is not None}
        if len(stages) > 1:
            raise ProfileError(f"variant {name}: profiles name different stages "
                               f"({', '.join(sorted(stages))}); keep one")
        out.append(planning.VariantProfile(name, service, correct=first.correct,
                                           stage=stages.pop() if stages else stage,
                                           capacity=capacity))
    return tuple(out)
