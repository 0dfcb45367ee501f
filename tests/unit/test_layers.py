"""The layers of DESIGN.md, kept: domain ← store ← services ← web / worker, queue beside them; no
import loop; SQL in store/ only; each module in the folder its docstring names. The source is read,
not run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "mediabuy_sync"

# What each folder may import of ours (besides itself). Absent from a list: forbidden. Root modules
# config, logs and metrics are the cross-cutting ones; cli (and devtools, sim) sit above everything.
ALLOWED = {
    "domain": set(),
    "store": {"domain", "config"},
    "adcp": {"domain", "config"},
    "queue": {"config", "logs", "metrics"},
    "services": {"domain", "store", "adcp", "queue", "config", "logs", "metrics"},
    "web": {"domain", "store", "adcp", "queue", "services", "config", "logs", "metrics"},
    "worker": {"domain", "store", "adcp", "queue", "services", "config", "logs", "metrics"},
    "sim": {"adcp", "config", "logs", "metrics"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(n) for n in ast.walk(node)}
    return inside


def imports_of(name: str) -> set[str]:
    """The modules of ours `name` imports (at any depth, lazily or not), outside `if TYPE_CHECKING`."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = _type_checking_nodes(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:  # `from . import x` imports the module x when there is one
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
    return {m for m in found if m in MODULES}


GRAPH = {name: imports_of(name) for name in MODULES}


def _layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_it_may(layer):
    broken = sorted(f"{m} imports {d}" for m, deps in GRAPH.items() if _layer(m) == layer
                    for d in deps if _layer(d) != layer and _layer(d) not in ALLOWED[layer])
    assert not broken, "\n".join(broken)


def test_the_checker_sees_relative_lazy_and_package_imports():
    assert "mediabuy_sync.queue.names" in GRAPH["mediabuy_sync.worker.tasks"]  # from ..queue.names import …
    assert "mediabuy_sync.services.polling" in GRAPH["mediabuy_sync.worker.tasks"]  # lazy, in a task
    assert "mediabuy_sync.services.campaigns" in GRAPH["mediabuy_sync.web.campaign_actions"]  # a package


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for dep in sorted(GRAPH[name]):
            # A package's __init__ importing its own submodules is how a package re-exports: not a loop
            # through the package unless the submodule imports the package back.
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(GRAPH):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_there_is_no_import_loop():
    cycle = _cycle()
    assert cycle is None, " -> ".join(cycle)


EXECUTORS = {"execute", "executemany", "copy", "stream"}


def test_sql_is_run_in_store_only():
    """Outside store/, no statement is executed: services hold transactions and call store's functions."""
    found = []
    for name, path in MODULES.items():
        if _layer(name) in ("store", "sim"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTORS
                    and node.args):  # Redis pipelines' execute() takes no statement
                found.append(f"{name}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert not found, "\n".join(found)


LAYERED = {"domain", "store", "adcp", "queue", "services", "web", "worker", "sim", "devtools"}


def test_every_module_says_which_folder_it_belongs_to():
    """A module's docstring starts with its folder's name ("store: …"), so one that says it belongs
    elsewhere is seen where it is."""
    wrong = []
    for name, path in MODULES.items():
        layer = _layer(name)
        if layer not in LAYERED:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if doc.split(":", 1)[0] != layer:
            wrong.append(f"{path.relative_to(SRC)}: {doc.splitlines()[0] if doc else '(no docstring)'}")
    assert not wrong, "\n".join(wrong)


def test_every_task_has_its_queue():
    """A task missing from queue/names.ROUTES would wait in the ingest queue by default: where no
    worker of its kind may be (an agents task there needs the SDK)."""
    from mediabuy_sync.queue import names

    tasks = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str) and v.startswith("mediabuy_sync.")}
    assert tasks and tasks == set(names.ROUTES)
