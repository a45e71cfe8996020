"""Workflows that join the rooms: analyse a run (and, later, estimate, full, compare)."""

from ._analyze import analyze_run, format_analysis
from ._audit import format_audit, run_audit
from ._check import Finding, check_run, format_check
from ._compare_guard import check_reference, compare_path
from ._compare_systems import (compare_systems, describe_system, format_compare_systems,
                               system_differences, systems_for_report, write_compare_systems)
from ._compare import compare_runs, failed_conditions, format_compare, parse_conditions, write_compare
from ._estimate import EstimateResult, estimate
from ._full import FullResult, full_run
from ._import import import_run, read_correctness
from ._remote import MLServerProcess, find_mlserver, free_port
from ._report import report_data
from ._inputs import PassMatrix, pass_matrix
from ._metric import run_quality, summarize
from ._profile import (Capacity, Profile, ProfileError, extract_profile, format_profiles,
                       load_profile, load_profiles)
from ._profile_records import planning_profiles, routing_variant
from ._profile_capture import DEFAULT_QUERIES as DEFAULT_PROFILE_QUERIES
from ._profile_capture import (capture_profile, profile_family, profile_from_flags,
                               profile_variants)

__all__ = ["format_audit", "run_audit", "check_reference", "compare_path",
           "compare_systems", "describe_system", "format_compare_systems", "system_differences",
           "systems_for_report", "write_compare_systems",
           "EstimateResult", "Finding", "check_run", "format_check", "FullResult", "compare_runs", "estimate", "failed_conditions",
           "format_compare", "full_run", "import_run", "read_correctness", "report_data", "parse_conditions", "write_compare",
           "PassMatrix", "MLServerProcess", "find_mlserver", "free_port", "analyze_run", "format_analysis", "pass_matrix", "run_quality", "summarize",
           "Capacity", "DEFAULT_PROFILE_QUERIES", "Profile", "ProfileError", "capture_profile",
           "extract_profile", "format_profiles", "load_profile", "load_profiles", "profile_family",
           "profile_from_flags", "profile_variants", "planning_profiles", "routing_variant"]

# issue 15: `tailq route` (the pool SUT under LoadGen's Server scenario, or simulated)
from ._route import load_routing, plan_route, route, routing_lines, routing_of  # noqa: E402

__all__ += ["load_routing", "plan_route", "route", "routing_lines", "routing_of"]
from ._show import show  # noqa: E402

__all__ += ["show"]

# issue 16: `tailq plan` (profiles → plan.json) and `tailq plan --verify` (the plan under LoadGen)
from . import _plan, _plan_deploy, _plan_verify  # noqa: E402
from ._plan import load_plan, make_plan, write_plan  # noqa: E402
from ._plan_deploy import PoolLayout, deploy_plan, pool_layout, verify_segment  # noqa: E402
from ._plan_verify import verify_plan  # noqa: E402

__all__ += ["PoolLayout", "deploy_plan", "load_plan", "make_plan", "pool_layout", "verify_plan",
            "verify_segment", "write_plan"]

# issue 16: `tailq adapt` (a load pattern as constant-QPS segments on one pool, re-planned)
from ._adapt import adapt, adapt_lines, adapt_of, load_adapt  # noqa: E402

__all__ += ["adapt", "adapt_lines", "adapt_of", "load_adapt"]

# issue 16: an IPA-mode plan on the pipeline SUT (stage pools in series) under LoadGen
from ._pipeline_verify import verify_pipeline_plan  # noqa: E402

__all__ += ["verify_pipeline_plan"]
