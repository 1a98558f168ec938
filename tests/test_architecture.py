"""The project's structure, read from its imports (``ast``, every module, top level and inside
functions): no import cycle, no layer importing a higher one, and every import made inside a
function says why on its line or above its block of imports (``# lazy: …``).

Layers, lowest first: config → models → app → imports → exports → views. Above them, the
application factory (``app/__init__.py``, ``create_app``) is the composition root: the one
module that assembles every layer (it registers the views and the background jobs).
``python -m tests.test_architecture`` prints the figures (modules, cycles, upward imports,
imports inside functions)."""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("config", "models", "app", "imports", "exports", "views")
RANK = {name: rank for rank, name in enumerate(LAYERS)}
ROOT_MODULE = "app"      #: create_app: above every layer


def rank(module: str) -> int:
    return len(LAYERS) if module == ROOT_MODULE else RANK[module.split(".")[0]]


@dataclass
class Graph:
    modules: dict[str, Path]
    edges: dict[str, set[str]] = field(default_factory=dict)
    #: (module, line, target, commented) of every project import made inside a function
    inner: list[tuple[str, int, str, bool]] = field(default_factory=list)

    def upward(self) -> list[tuple[str, str]]:
        return sorted((a, b) for a, targets in self.edges.items() for b in targets
                      if rank(b) > rank(a))

    def cycles(self) -> list[list[str]]:
        """Strongly connected components of more than one module (Tarjan, iterative)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []
        for root in sorted(self.modules):
            if root in index:
                continue
            work = [(root, iter(sorted(self.edges.get(root, ()))))]
            index[root] = low[root] = len(index)
            stack.append(root)
            on_stack.add(root)
            while work:
                node, children = work[-1]
                child = next(children, None)
                if child is not None:
                    if child not in index:
                        index[child] = low[child] = len(index)
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(sorted(self.edges.get(child, ())))))
                    elif child in on_stack:
                        low[node] = min(low[node], index[child])
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
        return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {"config": ROOT / "config.py"}
    for package in LAYERS[1:]:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _says_why(lines: list[str], line: int) -> bool:
    """A comment on the import's line, or above it (over a block of imports)."""
    at = line - 1
    if "#" in lines[at]:
        return True
    while at > 0 and lines[at - 1].strip().startswith(("from ", "import ")):
        at -= 1
        if "#" in lines[at]:
            return True
    return at > 0 and lines[at - 1].strip().startswith("#")


def build() -> Graph:
    graph = Graph(_modules())

    def resolve(name: str) -> str | None:
        while name:
            if name in graph.modules:
                return name
            name = name.rpartition(".")[0]
        return None

    for name, path in graph.modules.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]

        def targets(node: ast.Import | ast.ImportFrom) -> set[str]:
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    prefix = package[: len(package) - node.level + 1]
                    base = ".".join(prefix + ([node.module] if node.module else []))
                wanted = [base] + [f"{base}.{alias.name}" for alias in node.names]
            hit = {t for t in map(resolve, wanted) if t and t != name}
            return {t for t in hit if not any(o.startswith(t + ".") for o in hit)}

        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    hit = targets(child)
                    graph.edges.setdefault(name, set()).update(hit)
                    if hit and in_function:
                        line = child.lineno
                        said = _says_why(lines, line)
                        graph.inner.extend((name, line, t, said) for t in sorted(hit))
                visit(child, inside)

        visit(ast.parse(text, str(path)), False)
    return graph


def figures(graph: Graph) -> str:
    cycles, upward = graph.cycles(), graph.upward()
    unsaid = sorted({(m, line) for m, line, _t, said in graph.inner if not said})
    out = [f"modules: {len(graph.modules)}",
           f"cycles: {len(cycles)}", *[f"  {' ↔ '.join(c)}" for c in cycles],
           f"upward imports: {len(upward)}", *[f"  {a} → {b}" for a, b in upward],
           f"imports inside functions: {len({(m, line) for m, line, _t, _s in graph.inner})}"
           f" (without a reason: {len(unsaid)})"]
    return "\n".join(out)


GRAPH = build()


def test_no_import_cycle():
    assert GRAPH.cycles() == []


def test_no_layer_imports_a_higher_one():
    assert GRAPH.upward() == []


def test_every_import_inside_a_function_says_why():
    assert sorted({f"{m}:{line}" for m, line, _t, said in GRAPH.inner if not said}) == []


def test_the_graph_sees_every_package():
    assert {name.split(".")[0] for name in GRAPH.modules} == set(LAYERS)
    assert len(GRAPH.modules) > 100 and sum(map(len, GRAPH.edges.values())) > 300


if __name__ == "__main__":
    sys.stdout.write(figures(GRAPH) + "\n")
