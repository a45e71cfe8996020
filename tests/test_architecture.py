"""The rooms of docs/architecture.md: which package may import which."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FRAMEWORKS = {"torch", "tensorflow", "keras", "onnxruntime", "onnx", "sentence_transformers"}
RULES = {
    "tailq_loadgen/capture": FRAMEWORKS | {"scipy", "matplotlib", "tailq_loadgen.harnesses",
                                           "tailq_loadgen.tailquality", "tailq_loadgen.report"},
    "tailq_loadgen/records": FRAMEWORKS | {"mlperf_loadgen", "scipy", "matplotlib", "tailq_loadgen.harnesses",
                                           "tailq_loadgen.tailquality", "tailq_loadgen.capture"},
    "tailq_loadgen/tailquality": FRAMEWORKS | {"mlperf_loadgen", "matplotlib", "pyarrow", "os",
                                               "io", "json", "tailq_loadgen.records",
                                               "tailq_loadgen.capture", "tailq_loadgen.harnesses"},
    # Pure like tailquality: the same policy objects drive the simulator and a real pool.
    "tailq_loadgen/routing": FRAMEWORKS | {"mlperf_loadgen", "matplotlib", "pyarrow", "os", "io",
                                           "json", "pathlib", "tailq_loadgen.records",
                                           "tailq_loadgen.capture", "tailq_loadgen.harnesses",
                                           "tailq_loadgen.workflow", "tailq_loadgen.cli",
                                           "tailq_loadgen.report"},
    "tailq_loadgen/report": FRAMEWORKS | {"mlperf_loadgen", "tailq_loadgen.capture", "tailq_loadgen.harnesses"},
    "harnesses": {"mlperf_loadgen", "scipy", "tailq_loadgen.capture", "tailq_loadgen.tailquality"},
    "tailq_loadgen/planning": FRAMEWORKS | {"mlperf_loadgen", "matplotlib", "pyarrow", "os", "io", "json",
                                            "pathlib", "tailq_loadgen.records", "tailq_loadgen.capture",
                                            "tailq_loadgen.harnesses", "tailq_loadgen.cli",
                                            "tailq_loadgen.workflow", "tailq_loadgen.report"},
}


def _module_package(path):
    """The package a file belongs to once installed (harnesses/ installs as tailq_loadgen.harnesses)."""
    parts = path.relative_to(ROOT).with_suffix("").parts[:-1]
    if parts and parts[0] == "harnesses":
        parts = ("tailq_loadgen",) + parts
    return ".".join(parts)


def _imports(path):
    tree = ast.parse(path.read_text())
    pkg = _module_package(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


@pytest.mark.parametrize("room", sorted(RULES))
def test_room_imports(room):
    bad = []
    for path in sorted((ROOT / room).rglob("*.py")):
        for name in _imports(path):
            for forbidden in RULES[room]:
                if name == forbidden or name.startswith(forbidden + "."):
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_simpy_only_inside_the_routing_engine_that_uses_it():
    users = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tailq_loadgen").rglob("*.py")
                   if any(n == "simpy" or (n or "").startswith("simpy.") for n in _imports(p)))
    assert users == ["tailq_loadgen/routing/_simpy_engine.py"]


def test_package_import_loads_no_framework_or_loadgen():
    import subprocess
    import sys
    code = ("import sys, tailq_loadgen, tailq_loadgen.cli, tailq_loadgen.harnesses, "
            "tailq_loadgen.routing; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'onnxruntime', 'mlperf_loadgen', "
            "'matplotlib', 'simpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_package_is_installed():
    """setup.cfg lists packages by name (find: cannot see tailq_loadgen.harnesses)."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "tailq_loadgen").rglob("__init__.py")}
    on_disk.add("tailq_loadgen.harnesses")
    assert on_disk == listed


def test_a_user_folder_named_harnesses_does_not_shadow_ours(tmp_path):
    import subprocess
    import sys
    (tmp_path / "harnesses").mkdir()
    (tmp_path / "harnesses" / "__init__.py").write_text("raise ImportError('the user folder')\n")
    out = subprocess.run([sys.executable, "-m", "tailq_loadgen.cli", "harnesses"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "digits-torch" in out.stdout
