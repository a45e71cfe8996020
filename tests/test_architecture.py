"""The rooms of docs/architecture.md: which package may import which — a check that can fail.

Every import is resolved to the module it names: relative imports (``from .. import
tailquality`` inside ``capture`` is ``tailq_loadgen.tailquality``), the names imported from
a package (they may be submodules), and string imports (``importlib.import_module("x")``,
``__import__("x")``). Rooms that read data must not even hold the tools that run code
(``import_module``, ``eval``, ``pickle`` …): reading data never runs code.
"""

import ast
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FRAMEWORKS = {"torch", "tensorflow", "keras", "onnxruntime", "onnx", "sentence_transformers",
              "transformers", "jax"}
REMOTE = {"tritonclient", "grpc", "mlserver"}  # the V2 client lives in capture only
FILES = {"os", "io", "pathlib", "shutil", "json", "csv", "pickle", "glob", "tempfile", "yaml",
         "pyarrow", "sqlite3", "zipfile", "tarfile", "gzip"}
PKG = "tailq_loadgen"
ROOMS = ("capture", "records", "tailquality", "metrics", "routing", "planning", "workflow",
         "report", "cli", "harnesses")


def _pkg(*names):
    return {f"{PKG}.{n}" for n in names}


# Pure statistics rooms: NumPy and SciPy only — no files, LoadGen, CLI, plots (design.md).
PURE = FRAMEWORKS | FILES | REMOTE | {"mlperf_loadgen", "matplotlib", "argparse", "subprocess",
                                      "socket"} | _pkg("records", "capture", "cli", "workflow",
                                                       "report", "harnesses")
RULES = {
    "capture": FRAMEWORKS | {"scipy", "matplotlib"} | _pkg("harnesses", "tailquality", "report",
                                                           "workflow", "cli", "routing", "planning"),
    "records": FRAMEWORKS | REMOTE | {"mlperf_loadgen", "scipy", "matplotlib"}
    | _pkg("harnesses", "tailquality", "capture", "workflow", "report", "cli", "routing", "planning"),
    "tailquality": PURE | _pkg("metrics", "routing", "planning"),
    "metrics": PURE | _pkg("tailquality", "routing", "planning"),
    "routing": PURE | _pkg("planning"),
    "planning": PURE,
    # a harness is built only from the command line (the CLI), never from what a run stores
    "workflow": FRAMEWORKS | REMOTE | {"matplotlib", "argparse"}
    | _pkg("cli", "harnesses", "report._html", "report._plots"),
    "report": FRAMEWORKS | REMOTE | {"mlperf_loadgen"} | _pkg("capture", "harnesses", "cli", "workflow"),
    "cli": FRAMEWORKS | REMOTE | {"mlperf_loadgen", "numpy", "scipy", "pyarrow", "matplotlib"}
    | _pkg("tailquality._model"),
    "harnesses": {"mlperf_loadgen", "scipy"} | _pkg("capture", "tailquality", "records", "workflow",
                                                    "cli", "report"),
}
# Rooms that read run directories, logs or configs: no means of running code at all.
CODE_RUNNERS = {"importlib.import_module", "__import__", "eval", "exec", "compile", "pickle",
                "marshal", "shelve", "dill", "cloudpickle", "runpy", "importlib.util", "imp"}
NO_CODE_ROOMS = ("records", "workflow", "report", "tailquality", "metrics", "routing", "planning")


def room_dir(root, room):
    return root / "harnesses" if room == "harnesses" else root / PKG / room


def module_package(root, path):
    """The package a file belongs to once installed (harnesses/ installs as tailq_loadgen.harnesses)."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts and parts[0] == "harnesses":
        parts = (PKG,) + parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1])
    return ".".join(parts[:-1])


def imports(root, path):
    """Every module ``path`` imports, resolved to absolute names."""
    tree = ast.parse(path.read_text())
    pkg = module_package(root, path).split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            yield mod
            for alias in node.names:  # `from pkg import sub` may import a submodule
                if alias.name != "*":
                    yield f"{mod}.{alias.name}"
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name in ("importlib.import_module", "import_module", "__import__") and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield node.args[0].value


def _call_name(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        inner = _call_name(func.value)
        return f"{inner}.{func.attr}" if inner else func.attr
    return None


def code_runners(path):
    """Calls and imports that can run code named in data."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name in CODE_RUNNERS or (name or "").endswith(".import_module"):
                yield f"calls {name}"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for m in mods:
                if m.split(".")[0] in CODE_RUNNERS or m in CODE_RUNNERS:
                    yield f"imports {m}"


def violations(root):
    bad = []
    for room, forbidden in RULES.items():
        d = room_dir(root, room)
        if not d.exists():
            continue
        own = f"{PKG}.{room}"
        for path in sorted(d.rglob("*.py")):
            for name in imports(root, path):
                if name == own or name.startswith(own + "."):
                    continue
                for f in forbidden:
                    if name == f or name.startswith(f + "."):
                        bad.append(f"{path.relative_to(root)} imports {name} (room {room} must not "
                                   f"use {f})")
            if room in NO_CODE_ROOMS:
                for what in code_runners(path):
                    bad.append(f"{path.relative_to(root)} {what} (room {room} reads data: it must "
                               "never run code)")
    return bad


def test_rooms_keep_their_rules():
    assert violations(ROOT) == []


def test_every_room_has_rules():
    present = {p.name for p in (ROOT / PKG).iterdir() if (p / "__init__.py").exists()}
    assert present <= set(RULES) | {"harnesses"}, f"rooms without rules: {present - set(RULES)}"


def _copy(tmp_path):
    dst = tmp_path / "tree"
    shutil.copytree(ROOT / PKG, dst / PKG, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "harnesses", dst / "harnesses", ignore=shutil.ignore_patterns("__pycache__"))
    return dst


@pytest.mark.parametrize("room,file,line,needle", [
    # the relative import that the old test read as `tailq_loadgen` and let through
    ("capture", "_system.py", "from .. import tailquality", "tailq_loadgen.tailquality"),
    ("capture", "_system.py", "from ..tailquality import analyze", "tailq_loadgen.tailquality"),
    ("records", "_reader.py", "import mlperf_loadgen", "mlperf_loadgen"),
    ("records", "_reader.py", "from ..harnesses import get_harness", "tailq_loadgen.harnesses"),
    ("metrics", "_metrics.py", "import json", "json"),
    ("tailquality", "_model.py", "from .. import records", "tailq_loadgen.records"),
    ("workflow", "_metric.py", "from .. import harnesses", "tailq_loadgen.harnesses"),
    ("workflow", "_metric.py", "import importlib\nimportlib.import_module('os')", "never run code"),
    ("records", "_reader.py", "x = eval('1')", "calls eval"),
    ("cli", "_show.py", "import numpy", "numpy"),
    ("report", "_summary.py", "from ..capture import run_capture", "tailq_loadgen.capture"),
])
def test_a_planted_forbidden_import_is_caught(tmp_path, room, file, line, needle):
    dst = _copy(tmp_path)
    path = room_dir(dst, room) / file
    path.write_text(path.read_text() + "\n" + line + "\n")
    bad = violations(dst)
    assert any(needle in b and file in b for b in bad), bad


def test_a_planted_room_is_caught(tmp_path):
    dst = _copy(tmp_path)
    (dst / PKG / "routing" / "_planted.py").write_text("import os\nfrom .. import records\n")
    bad = violations(dst)
    assert any("routing/_planted.py imports os" in b for b in bad)
    assert any("_planted.py imports tailq_loadgen.records" in b for b in bad)


def test_simpy_only_inside_the_routing_engine_that_uses_it():
    users = sorted(str(p.relative_to(ROOT)) for p in (ROOT / PKG).rglob("*.py")
                   if any(n == "simpy" or (n or "").startswith("simpy.") for n in imports(ROOT, p)))
    assert users == ["tailq_loadgen/routing/_simpy_engine.py"]


def test_package_import_loads_no_framework_or_loadgen():
    import subprocess
    import sys
    code = ("import sys, tailq_loadgen, tailq_loadgen.cli, tailq_loadgen.harnesses, "
            "tailq_loadgen.routing; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'onnxruntime', 'mlperf_loadgen', "
            "'matplotlib', 'simpy', 'tritonclient') if m in sys.modules))")
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
