"""The package's shape: no import circle (function-local imports included), a small top level, and
a core that builds the DAG without torch, pandas or Brevitas."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "lstmptq"
# The torch-free core: the Snakefile and the config checks import these before any job runs.
CORE = ("config", "fingerprint", "flags", "grid", "io", "registry", "resources", "runtime", "scheme")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, known: set[str], package: str = "") -> set[str]:
    """The package modules `path` (in `package`) imports anywhere in it, top level or inside
    functions, relative imports included: for `from a.b import c`, module a.b.c where that is a
    module, else a.b."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            origin = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                child = f"{origin}.{alias.name}"
                found.add(child if child in known else origin)
    return {name for name in found if name in known}


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules it imports; importing a module also runs its packages' __init__."""
    graph = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = imported(path, set(known), package)
        for target in list(edges):
            parts = target.split(".")
            edges |= {".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in known}
        graph[name] = edges - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_circle():
    assert circles(import_graph(modules())) == []


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_function_local_and_relative_imports_count(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from . import engine\n\ndef f():\n    from lstmptq.quant.build import Plan\n    from ..grid import BITS\n"
    )
    known = {"lstmptq.grid", "lstmptq.quant", "lstmptq.quant.build", "lstmptq.quant.engine"}
    assert imported(module, known, "lstmptq.quant") == {"lstmptq.quant.build", "lstmptq.quant.engine", "lstmptq.grid"}


def test_at_most_twelve_modules_at_the_top_level():
    top = sorted(path.stem for path in PACKAGE.glob("*.py") if path.name != "__init__.py")
    assert len(top) <= 12, top


@pytest.mark.parametrize("name", CORE)
def test_the_core_imports_no_heavy_library(name):
    """The DAG builds without torch: each core module, imported alone, loads no heavy library."""
    heavy = ("torch", "numpy", "pandas", "brevitas", "scipy", "sklearn")
    code = f"import sys, lstmptq.{name}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, check=True
    )
    assert result.stdout.strip() == "[]", f"lstmptq.{name} imports {result.stdout.strip()}"
