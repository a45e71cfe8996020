"""Harnesses (backend + dataset + post-processor + metric), registered by name."""

from ._base import Harness
from ._registry import (FAMILIES, HEADER, PIPELINES, REGISTRY, Family, HarnessSpec, Pipeline,
                        build_pipeline, check_harness, family_of, get_family, get_harness,
                        get_pipeline, harness_takes, list_harnesses, parse_harness_args,
                        pipeline_accuracy, pipeline_for_stages, pipeline_of)

__all__ = ["FAMILIES", "Family", "HEADER", "Harness", "HarnessSpec", "PIPELINES", "Pipeline",
           "REGISTRY", "build_pipeline", "check_harness", "family_of", "get_family", "get_harness",
           "get_pipeline", "harness_takes", "list_harnesses", "parse_harness_args",
           "pipeline_accuracy", "pipeline_for_stages", "pipeline_of"]
