"""The package's shape, checked: no import cycle between modules, no import from a lower part to a
higher one (issue 17). Every import counts: at the top, inside functions, under TYPE_CHECKING,
because a cycle hidden behind a lazy import is still a cycle a reader has to untangle.

The parts, lowest first. A module may import its own part and any part of a LOWER rank; parts of
the same rank are peers and must not import each other. Where a change needs an arrow this table
forbids, the module is in the wrong part, or the shared piece belongs lower down.

Lands as tests/test_architecture.py with the restructure (issue 17). KNOWN_* list what the move
alone does not fix; each extraction step of the plan deletes its entries, and the test fails when
an entry is no longer true, so the lists only shrink.

Also runs as a script: `python tests/test_architecture.py [ROOT]` prints every finding.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# rank: lowest first. The key is a package or module under bot; the longest matching key wins.
LAYERS: dict[str, int] = {
    "bot.errors": 1,
    "bot.shared": 2,
    "bot.ingest": 3,
    "bot.config": 4,
    "bot.embedding": 5,
    "bot.index": 6,
    "bot.stores": 7,
    "bot.answering": 7,
    "bot.feedback": 8,
    "bot.evaluation": 8,
    "bot.service": 9,
    "bot.terminal": 10,
    "bot.discord": 10,
    "bot.cli": 11,
    "bot.__main__": 12,
    "bot": 0,  # the package's own __init__: imports nothing
}

# Known on 2026-12-03 after the move alone, each removed by the plan step named beside it.
# (importer, imported): reason.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((root / "bot").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module of the project, line) for every import statement anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "bot" or alias.name.startswith("bot."):
                    yield _most_specific(alias.name, known), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module != "bot" and not module.startswith("bot."):
                continue
            for alias in node.names:
                inner = f"{module}.{alias.name}"
                yield (inner if inner in known else _most_specific(module, known)), node.lineno


def _most_specific(dotted: str, known: dict[str, Path]) -> str:
    while dotted not in known and "." in dotted:
        dotted = dotted.rpartition(".")[0]
    return dotted


def graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}, the project's own modules only."""
    known = modules(root)
    edges: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        out: dict[str, int] = {}
        for target, line in imports_of(name, path, known):
            if target != name and target in known:
                out.setdefault(target, line)
        edges[name] = out
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, {})))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(found, key=sorted)


def part(module: str) -> str:
    """The key of LAYERS a module belongs to (its part)."""
    candidates = [k for k in LAYERS if module == k or module.startswith(k + ".")]
    return max(candidates, key=len)


def upward(edges: dict[str, dict[str, int]]) -> dict[tuple[str, str], int]:
    """(importer, imported) -> line, for every import of a higher or peer part."""
    found: dict[tuple[str, str], int] = {}
    for source, targets in edges.items():
        for target, line in targets.items():
            a, b = part(source), part(target)
            if a != b and LAYERS[a] <= LAYERS[b]:
                found[(source, target)] = line
    return found


def unplaced(root: Path) -> list[str]:
    return [m for m in modules(root) if part(m) == "bot" and m != "bot"]


def report(root: Path) -> str:
    edges = graph(root)
    lines = [f"{len(edges)} modules, {sum(len(t) for t in edges.values())} imports"]
    for component in cycles(edges):
        inner = [
            f"{a} -> {b} (line {edges[a][b]})"
            for a in sorted(component)
            for b in sorted(edges[a])
            if b in component
        ]
        lines.append(f"CYCLE of {len(component)}: " + "; ".join(inner))
    for (a, b), line in sorted(upward(edges).items()):
        lines.append(
            f"UPWARD {a}:{line} -> {b}  ({part(a)} rank {LAYERS[part(a)]} -> "
            f"{part(b)} rank {LAYERS[part(b)]})"
        )
    lines += [f"UNPLACED {m}: add its part to LAYERS" for m in unplaced(root)]
    return "\n".join(lines)


# ------------------------------------------------------------------ tests


def test_every_module_has_a_part() -> None:
    assert unplaced(ROOT) == []


def test_no_import_cycles() -> None:
    found = set(cycles(graph(ROOT)))
    assert found - set(KNOWN_CYCLES) == set(), report(ROOT)
    assert set(KNOWN_CYCLES) - found == set(), "a known cycle is gone: delete it from KNOWN_CYCLES"


def test_no_import_from_a_lower_part_to_a_higher_one() -> None:
    found = set(upward(graph(ROOT)))
    assert found - set(KNOWN_UPWARD) == set(), report(ROOT)
    assert set(KNOWN_UPWARD) - found == set(), "a known upward import is gone: delete its entry"


def test_the_checker_sees_cycles_and_upward_imports(tmp_path: Path) -> None:
    """The checks can fail: a planted cycle through a function-level and a TYPE_CHECKING import,
    and a planted upward import, are both found."""
    package = tmp_path / "bot"
    (package / "shared").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "shared" / "__init__.py").write_text("")
    (package / "errors.py").write_text("def f():\n    from bot.shared import text\n")
    (package / "shared" / "text.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot import errors\n"
    )
    edges = graph(tmp_path)
    assert cycles(edges) == [frozenset({"bot.errors", "bot.shared.text"})]
    assert set(upward(edges)) == {("bot.errors", "bot.shared.text")}


if __name__ == "__main__":
    print(report(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT))
