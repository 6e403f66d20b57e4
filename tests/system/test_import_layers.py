"""The dependency rules README states, checked on the code: no import circle between
modules and no package importing one above it, counting imports inside functions and
for type checking too (a deferred import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each package and what it may import of ours (README, "Dependency direction").
# ``settings`` is the bottom: every package may read it, it reads none of ours.
ALLOWED: dict[str, set[str]] = {
    "settings": set(),
    "nlu": set(),
    "responses": set(),
    "storage": {"settings"},
    "throttle": set(),
    "weburl": set(),
    "messaging": {"storage", "responses"},
    # The one job runner: every domain's periodic work is handed in (bot/periodic.py),
    # so it imports no domain and every domain may declare its jobs with it.
    "jobs": {"storage"},
    "accounts": {"storage", "throttle", "weburl"},
    "reporting": {"responses", "storage", "messaging", "accounts", "throttle", "weburl", "jobs"},
    "registry": {"accounts", "reporting", "responses", "storage"},
    "review": {"nlu", "storage", "accounts", "reporting", "jobs"},
    "scamcheck": {"registry", "weburl", "responses", "storage"},
    # Village groups, subscribers, tips, campaigns, alerts, the drain, their pages and CLI;
    # the subscribe conversation is a skill in bot/ (bot/enrollment.py).
    "outreach": {"accounts", "messaging", "reporting", "responses", "storage", "weburl", "jobs"},
}
for _package, _below in ALLOWED.items():
    if _package != "settings":
        _below.add("settings")


def _modules() -> dict[str, Path]:
    found = {}
    for init in ROOT.glob("*/__init__.py"):
        package = init.parent.name
        if package in ("tests", "bench"):
            continue
        for path in init.parent.rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every module of ours that ``path`` imports, anywhere in it: at the top, inside a
    function (deferred) or for type checking only."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return {n for n in names if n in known}


def test_no_package_imports_one_above_it():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        package = name.split(".")[0]
        if package not in ALLOWED:
            assert package == "bot", f"{package}/ has no place in the layer order"
            continue
        for target in _imports(path, set(modules)):
            other = target.split(".")[0]
            if other != package and other not in ALLOWED[package]:
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_no_import_circle_between_modules():
    modules = _modules()
    graph = {m: _imports(p, set(modules)) - {m} for m, p in modules.items()}
    circles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert circles == []
