"""The rooms of docs/architecture.md: which package may import which."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FRAMEWORKS = {"torch", "tensorflow", "keras", "onnxruntime", "onnx", "sentence_transformers"}
RULES = {
    "tailq_loadgen/capture": FRAMEWORKS | {"scipy", "matplotlib", "harnesses",
                                           "tailq_loadgen.tailquality", "tailq_loadgen.report"},
    "tailq_loadgen/records": FRAMEWORKS | {"mlperf_loadgen", "scipy", "matplotlib", "harnesses",
                                           "tailq_loadgen.tailquality", "tailq_loadgen.capture"},
    "tailq_loadgen/tailquality": FRAMEWORKS | {"mlperf_loadgen", "matplotlib", "pyarrow", "os",
                                               "io", "json", "tailq_loadgen.records",
                                               "tailq_loadgen.capture", "harnesses"},
    "tailq_loadgen/report": FRAMEWORKS | {"mlperf_loadgen", "tailq_loadgen.capture", "harnesses"},
    "harnesses": {"mlperf_loadgen", "scipy", "tailq_loadgen.capture", "tailq_loadgen.tailquality"},
}


def _imports(path):
    tree = ast.parse(path.read_text())
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
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


def test_package_import_loads_no_framework_or_loadgen():
    import subprocess
    import sys
    code = ("import sys, tailq_loadgen, tailq_loadgen.cli, harnesses; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'onnxruntime', 'mlperf_loadgen', "
            "'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
