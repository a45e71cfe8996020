"""Random planning instances (seeded) for the solver tests and benchmarks/planner.py."""

import numpy as np

from tailq_loadgen import planning as P


def _samples(rng, mean, sigma, n):
    # lognormal with the given mean, so that the service-time law has a real tail
    return mean * rng.lognormal(-0.5 * sigma * sigma, sigma, n)


def pipeline_profiles(rng, stages, variants, batch_sizes, samples=48, two_threads=False,
                      ties=False, gaps=True):
    """Profiles of a pipeline: per stage ``variants`` variants with accuracy, speed and batching
    behaviour drawn at random; some batch sizes left unprofiled (filled by the fit) when
    ``gaps``; ``ties`` duplicates a variant under another name (exact objective ties)."""
    profiles = []
    for s in range(stages):
        stage = f"s{s}"
        made = []
        for v in range(variants):
            base = rng.uniform(0.5e-3, 8e-3)
            growth = rng.uniform(0.25, 0.95)
            sigma = rng.uniform(0.05, 0.35)
            prof_b = [b for b in batch_sizes
                      if not gaps or b in (batch_sizes[0], batch_sizes[-1]) or rng.random() < 0.6]
            svc = []
            for t in ((1, 2) if two_threads else (1,)):
                speed = 1.0 if t == 1 else rng.uniform(0.55, 0.9)
                for b in prof_b:
                    svc.append(P.ServiceSamples(b, t, _samples(rng, base * speed * (1 + growth * (b - 1)),
                                                               sigma, samples)))
            acc = float(np.round(rng.uniform(0.55, 0.99), 4))
            made.append(P.VariantProfile(f"{stage}v{v}", svc, accuracy=acc, stage=stage))
        if ties and len(made) > 1:
            src = made[int(rng.integers(len(made)))]
            made.append(P.VariantProfile(src.name + "-twin", src.service, accuracy=src.accuracy, stage=stage))
        profiles += made
    return profiles


def pipeline_instance(seed, stages=None, variants=None, batch_cap=None):
    """Keyword arguments for plan_pipeline (without objective and solver), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    stages = stages or int(rng.integers(1, 4))
    variants = variants or int(rng.integers(1, 4))
    cap = batch_cap or int(rng.choice([1, 2, 4, 8]))
    batch_sizes = tuple(b for b in (1, 2, 4, 8) if b <= cap)
    profiles = pipeline_profiles(rng, stages, variants, batch_sizes,
                                 two_threads=bool(rng.random() < 0.3), ties=bool(rng.random() < 0.3))
    qps = float(rng.uniform(50, 3000))
    # an SLO between the fastest and a slow-ish end-to-end latency, so the constraint binds
    fast = sum(min(s.p99_s for p in profiles if p.stage == f"s{k}" for s in p.service)
               for k in range(stages))
    slo = float(fast * rng.uniform(0.9, 3.0) + stages * rng.uniform(0, 4) / qps)
    max_cores = int(rng.integers(4, 200)) if rng.random() < 0.4 else None
    return dict(profiles=profiles, qps=qps, slo_s=slo, batch_sizes=batch_sizes,
                max_replicas=int(rng.choice([10, 100])), max_cores=max_cores)


def variant_set_instance(seed, variants=None, budget=None, twins=True):
    """Keyword arguments for plan_variant_set (without objective and solver), drawn from ``seed``.
    Capacities are measured points (a noisy line in the cores), as LoadGen's FindPeakPerformance
    would give, so the instance does not depend on the predictor."""
    rng = np.random.default_rng(seed)
    k = variants or int(rng.integers(1, 6))
    budget = budget or int(rng.integers(2, 13))
    slo = 0.05
    profiles = []
    for v in range(k):
        mean = rng.uniform(1e-3, 20e-3)
        per_core = rng.uniform(0.5, 0.95) / mean
        points = [P.CapacityPoint(c, max(0.0, per_core * c * rng.uniform(0.9, 1.05) - rng.uniform(0, 5)), slo)
                  for c in (1, 2, 4, 8)]
        acc = float(np.round(rng.uniform(0.5, 0.95), 3))
        profiles.append(P.VariantProfile(f"v{v}", [P.ServiceSamples(1, 1, _samples(rng, mean, 0.3, 32))],
                                         accuracy=acc, capacity=points,
                                         load_time_s=float(rng.uniform(1, 10))))
    if twins and k > 1 and rng.random() < 0.3:
        src = profiles[int(rng.integers(k))]
        profiles.append(P.VariantProfile(src.name + "-twin", src.service, accuracy=src.accuracy,
                                         capacity=src.capacity, load_time_s=src.load_time_s))
    top = sum(P.linear_capacity(p.capacity, [budget])[0] for p in profiles) * 0.8
    qps = float(rng.uniform(0.05, 0.9) * max(top, 1.0) / max(1, len(profiles) // 2))
    current = {p.name: int(rng.choice([0, 2, 3, 4])) for p in profiles if rng.random() < 0.5}
    return dict(profiles=profiles, qps=qps, slo_s=slo, max_cores=budget,
                min_cores=int(rng.choice([1, 2])), current=current)
