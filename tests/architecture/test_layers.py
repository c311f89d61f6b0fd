"""The architecture, checked on the source: imports point one way
(channels -> conversation gateway -> bot | handoff -> knowledge), shared packages depend on
neither runtime's framework, no import cycles, schema creation only in the migrations.

Every import counts, including those inside functions (an import that only runs later is still a
dependency); `if TYPE_CHECKING:` blocks are left out (they never run).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "knowledge_base", "cards", "vocab", "pii", "actions", "bot", "migrations",
            "bench")
FRAMEWORKS = ("fastapi", "starlette", "pydantic", "pydantic_settings", "uvicorn", "rasa",
              "rasa_sdk", "sanic")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" in path.parts or "models" in path.parts and package == "bot":
                continue  # Alembic revisions; trained Rasa models
            found[module_name(path)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            yield from (n for child in node.orelse for n in [child, *_walk(child)])
            continue
        yield node
        yield from _walk(node)


@cache
def imports(name: str) -> frozenset[str]:
    """Every module `name` imports (absolute names; `from a import b` counts `a.b` when that
    is a module)."""
    path = modules()[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names
                       if f"{base}.{alias.name}" in modules())
    return frozenset(out)


def project_imports(name: str) -> set[str]:
    return {m for m in imports(name) if m in modules()}


def violations(sources: tuple[str, ...], forbidden: tuple[str, ...],
               allowed: tuple[str, ...] = ()) -> list[str]:
    def under(module: str, roots: tuple[str, ...]) -> bool:
        return any(module == r or module.startswith(r + ".") for r in roots)

    return sorted(f"{name} imports {target}" for name in modules() if under(name, sources)
                  for target in imports(name)
                  if under(target, forbidden) and not under(target, allowed))


def test_the_walk_sees_function_level_imports() -> None:
    # api/core/errors.py imports at module level, knowledge_base/__main__.py inside a function
    assert "knowledge_base.search.service" in imports("api.core.errors")
    assert "knowledge_base.search.service" in imports("knowledge_base.__main__")


def test_the_knowledge_layer_never_imports_the_web_layer_or_a_runtime() -> None:
    assert violations(("knowledge_base",), ("api", "actions", "bot", "cards", "fastapi",
                                            "starlette", "uvicorn")) == []


def test_no_service_runtime_or_shared_module_imports_the_rasa_runtime() -> None:
    assert violations(("api", "knowledge_base", "cards", "vocab", "pii", "migrations"),
                      ("actions", "bot", "rasa", "rasa_sdk")) == []


def test_shared_packages_depend_on_neither_framework() -> None:
    assert violations(("cards", "vocab", "migrations"), FRAMEWORKS) == []
    # migrations' env.py files load their own models; the runner itself imports no project code
    assert project_imports("migrations") == set()
    assert violations(("cards",), ("api", "knowledge_base", "actions")) == []


def test_the_vocabulary_is_standard_library_only() -> None:
    names = {m.split(".")[0] for m in imports("vocab")} - {"__future__"}
    assert names <= set(sys.stdlib_module_names), names


def test_layers_of_the_service_runtime_point_one_way() -> None:
    http = ("api.main", "api.__main__", "api.deps", "api.routes", "api.schemas")
    domain = ("api.conversation", "api.handoff", "api.channels", "api.kbops", "api.models",
              "api.staff", "api.insights", "api.quality")
    assert violations(domain, http) == []
    # core (settings, db, security, error mapping) serves everyone and knows no domain
    assert violations(("api.core",), (*http, *domain)) == []
    # the tables know no behaviour
    assert violations(("api.models",), ("api",), allowed=("api.models",)) == []
    # handoff and the bot client sit below the gateway; the gateway below the channels
    assert violations(("api.handoff",), ("api.conversation.gateway", "api.channels",
                                         "api.kbops")) == []
    assert violations(("api.conversation",), ("api.channels", "api.kbops")) == []
    # the ops console's services read the records, never the desk or a channel
    assert violations(("api.kbops",), ("api.handoff", "api.channels", "api.conversation")) == []
    # insights and quality inspection read the records; the gateway and the routes call them
    assert violations(("api.insights", "api.quality"), ("api.handoff", "api.channels",
                                                        "api.conversation", "api.kbops")) == []


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in project_imports(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in project_imports(v):
                found.append(sorted(component))

    for name in modules():
        if name not in index:
            visit(name)
    return found


def test_no_import_cycles_among_project_modules() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("package", ["api", "knowledge_base", "cards", "actions", "bench"])
def test_no_table_creation_outside_the_migrations(package: str) -> None:
    offenders = []
    for name, path in modules().items():
        if not name.startswith(package):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "create_all":
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


def test_handoff_events_reach_the_hub_only_after_commit() -> None:
    """The desk's services hand events to `api.handoff.events.publish_after_commit`; only it
    (and the hub itself) calls `publish`, so a rolled-back change is never announced."""
    offenders = []
    for name, path in modules().items():
        if not name.startswith("api.handoff.") or name in ("api.handoff.hub",
                                                            "api.handoff.events"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "publish"):
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []
    assert any("api.handoff.events" in imports(n) for n in modules()
               if n.startswith("api.handoff."))


def test_the_domain_knows_no_http() -> None:
    """Handoff, the gateway, the ops services, insights and the tables raise domain errors;
    only `api/core/errors.py` turns them into HTTP (the channels' start-up wiring,
    `api/channels/wechat/setup.py`, is the one place below the routes that sees the app)."""
    domain = ("api.handoff", "api.conversation", "api.kbops", "api.insights", "api.quality",
              "api.models", "api.staff", "api.channels")
    found = violations(domain, ("fastapi", "starlette", "api.core.errors"))
    assert found == ["api.channels.wechat.setup imports fastapi"]
