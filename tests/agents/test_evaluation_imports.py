"""agents.evaluation's modules import one another in one direction only (no import circle)."""

from __future__ import annotations

import ast
from pathlib import Path

import agents.evaluation

PACKAGE = Path(agents.evaluation.__file__).parent


def _imports(path: Path) -> set[str]:
    """Sibling modules ``path`` imports anywhere (lazy and TYPE_CHECKING imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "agents.evaluation":
                found |= {a.name for a in node.names}
            elif node.module.startswith("agents.evaluation."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {
                a.name.split(".")[2] for a in node.names if a.name.startswith("agents.evaluation.")
            }
    return found


def test_no_import_cycles_between_evaluation_modules() -> None:
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import circle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for dep in graph[module]:
            visit(dep, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    assert "report" in graph["aggregate"] and "plots" in graph["report"]  # the checker sees them


def test_public_names_still_import() -> None:
    from agents.evaluation import (  # noqa: F401
        ALL_HELDOUT,
        EVAL_SEED,
        GroupReport,
        SplitResult,
        TransferReport,
        aggregate_runs,
        evaluate_transfer,
    )
    from agents.evaluation.report import BASELINE_CACHE_ENV  # noqa: F401 (benchmarks)
