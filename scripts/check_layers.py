"""Fail when a module imports a layer above its own: the house's one direction of dependencies.

    python scripts/check_layers.py [ROOT]

Layers, top to bottom: ``newsflow`` (the CLI, the stack manager) -> ``flows`` (Prefect) ->
``workers`` (stages, runtime, clients) -> ``schemas`` (contracts, importing nothing of ours).
A module may import its own layer and the layers below it, never one above; every import
counts, those inside functions too. Prints each offence as ``path:line: module imports X``
and exits 1 if there is any (``make check-layers``, run by ``make test``).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

LAYERS = ("schemas", "workers", "flows", "newsflow")  # bottom to top


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every absolute import in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def offences(root: Path) -> list[str]:
    found = []
    for rank, layer in enumerate(LAYERS):
        above = set(LAYERS[rank + 1:])
        for path in sorted((root / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, package in imported(tree):
                if package in above:
                    found.append(f"{path.relative_to(root)}:{line}: {layer} imports {package}")
    return found


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    found = offences(root)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} upward import(s): layers are {' -> '.join(reversed(LAYERS))}")
        return 1
    print(f"layers ok: {' -> '.join(reversed(LAYERS))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
