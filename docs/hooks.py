"""MkDocs hooks: pages generated from the code at build time.

- ``envs/<name>.md`` for every built-in env: its registry entry, the pre-rendered
  gallery pictures (``docs/render_gallery.py``), the scenario-space table built from the
  env's ``ScenarioSpace`` and the env class's own docstring (no second copy of the text);
- ``envs/index.md``: the gallery, one row per env;
- ``benchmarks.md``: every ``benchmarks/results/*.json`` with its date, machine and
  versions, its tables and its plot, and the result files themselves beside it.

Changing a scenario range, a docstring or a result file changes the site on the next
``mkdocs build``; nothing here is written to the source tree.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the page generators below also run (in tests) without mkdocs
    from mkdocs.structure.files import Files

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "assets" / "gallery"
RESULTS = ROOT / "benchmarks" / "results"
ENV_NAV_KEY = "Environments"


def _envs() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import envs

    return envs


def _builtin_specs() -> list[Any]:
    """The envs shipped in the package (not plugins, nor envs a program registered)."""
    return [
        s
        for s in _envs().iter_specs()
        if s.plugin is None and isinstance(s.entry_point, str) and s.entry_point.startswith("envs.")
    ]


# --------------------------------------------------------------------------- nav


def on_config(config: Any) -> Any:
    """Expands the ``Environments`` nav entry into one page per built-in env."""
    pages = [{spec.name: f"envs/{spec.name}.md"} for spec in _builtin_specs()]
    for i, item in enumerate(config["nav"] or []):
        if isinstance(item, dict) and ENV_NAV_KEY in item:
            config["nav"][i] = {ENV_NAV_KEY: ["envs/index.md", *pages]}
    return config


def on_files(files: Files, config: Any) -> Files:
    """Adds the generated pages (and the benchmark result files) to the build."""
    from mkdocs.structure.files import File

    specs = _builtin_specs()
    files.append(File.generated(config, "envs/index.md", content=gallery_page(specs)))
    for spec in specs:
        files.append(File.generated(config, f"envs/{spec.name}.md", content=env_page(spec)))
    files.append(File.generated(config, "benchmarks.md", content=benchmarks_page()))
    for path in sorted(RESULTS.glob("*")):
        if path.is_file() and path.suffix in {".json", ".png"}:
            uri = f"benchmarks/results/{path.name}"
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


# --------------------------------------------------------------------------- env pages


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def dist_cell(dist: Any) -> str:
    """One split's distribution of one parameter, as a table cell."""
    plain = dist.to_plain()
    kind = type(dist).__name__
    if kind == "Range":
        return f"[{_fmt(plain[0])}, {_fmt(plain[1])}]"
    if kind == "Choice":
        return "{" + ", ".join(_fmt(v) for v in plain) + "}"
    return _fmt(plain)


def param_range(param: Any) -> str:
    """A parameter's supported range (what the simulator accepts)."""
    if hasattr(param, "choices"):
        return "{" + ", ".join(_fmt(v) for v in param.choices) + "}"
    text = f"[{_fmt(param.low)}, {_fmt(param.high)}]"
    return f"{text} {param.unit}".rstrip()


def scenario_table(space: Any) -> str:
    """Parameter, supported range, train and every held-out split, from a ``ScenarioSpace``.

    A held-out cell in **bold** never overlaps train (the split's held-out axes); a cell
    equal to train's is shown as "= train".
    """
    splits = space.split_names
    header = ["parameter", "description", "range", *splits]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    train = space.distribution("train").dists
    axes = {split: set(space.heldout_axes(split)) for split in space.heldout_splits}
    for param in space.params:
        cells = [f"`{param.name}`", param.description or "", param_range(param)]
        cells.append(dist_cell(train[param.name]))
        for split in space.heldout_splits:
            dist = space.distribution(split).dists[param.name]
            if param.name in axes[split]:
                cells.append(f"**{dist_cell(dist)}**")
            elif dist == train[param.name]:
                cells.append("= train")
            else:
                cells.append(dist_cell(dist))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|obj):`~?([\w.]+)`")


def docstring_markdown(doc: str) -> str:
    """A Gymnasium-style Markdown class docstring, ready for a page.

    Sphinx roles become inline code (the last dotted part for ``~`` references),
    headings go one level down and doctest examples become ``pycon`` code blocks.
    """
    text = inspect.cleandoc(doc)
    text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    out: list[str] = []
    in_doctest = False
    for line in text.splitlines():
        if line.startswith(">>>") and not in_doctest:
            out += ["", "```pycon"]
            in_doctest = True
        elif in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        if not in_doctest and line.startswith("#"):
            line = "#" + line  # the docstring's sections sit under the page's class heading
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


def _gallery_file(name: str, suffix: str) -> str | None:
    path = GALLERY / f"{name}{suffix}"
    return f"../assets/gallery/{path.name}" if path.exists() else None


def env_page(spec: Any) -> str:
    """The page of one env."""
    envs = _envs()
    env = envs.make(spec.name)
    cls = type(env.unwrapped)
    space = env.unwrapped.scenario_space
    modes = env.metadata.get("render_modes", [])
    env.close()
    kwargs = ", ".join(f"{k}={v!r}" for k, v in spec.kwargs.items())
    summary, _, body = docstring_markdown(cls.__doc__ or "").partition("\n")
    lines = [
        f"# {spec.name}",
        "",
        f"{spec.description}",
        "",
        f"- Gymnasium id: `{spec.env_id}`",
        f"- Class: `{cls.__module__}.{cls.__name__}`" + (f" with `{kwargs}`" if kwargs else ""),
        f"- Splits: {', '.join(f'`{s}`' for s in space.split_names)}",
        f"- Native batch: {'yes, ' + '`envs.make_vec`' if spec.vector_entry_point else 'no'}",
        "",
        "```python",
        "import envs",
        "",
        f'env = envs.make("{spec.name}", split="{space.heldout_splits[0]}")',
        f'expert = envs.make_expert("{spec.name}", env)',
        "```",
        "",
        "## The expert on every split",
        "",
    ]
    if "rgb_array" in modes:
        row, cap = [], []
        for split in space.split_names:
            src = _gallery_file(f"{spec.name}-{split}", ".gif")
            if src:
                row.append(f"![{spec.name} expert on {split}]({src})")
                cap.append(f"`{split}`")
        lines += [
            "The scripted expert (`envs.make_expert`), one episode from seed 0 on each split,",
            'rendered with `render_mode="rgb_array"`:',
            "",
            "| " + " | ".join(cap) + " |",
            "|" + "---|" * len(cap),
            "| " + " | ".join(row) + " |",
            "",
        ]
    else:
        lines += [
            'The scripted expert on each split, seed 0 (`render_mode="ansi"` transcripts):',
            "",
        ]
        for split in space.split_names:
            path = GALLERY / f"{spec.name}-{split}.txt"
            if path.exists():
                lines += [f'=== "{split}"', "", "    ```text"]
                lines += [f"    {t}".rstrip() for t in path.read_text().splitlines()]
                lines += ["    ```", ""]
    birdseye = _gallery_file(f"{spec.name}-birdseye", ".png")
    if birdseye:
        lines += [
            "## What the agent sees: `birdseye`",
            "",
            'The 64x64 `obs_type="birdseye"` observation at reset for seeds 0-3: `train`',
            "visuals on top, `heldout-visual` below (colours, contrast, brightness, noise and",
            "blur the agent never practised on).",
            "",
            f"![birdseye observations, train vs heldout-visual]({birdseye})",
            "",
        ]
    lines += [
        "## Scenario space",
        "",
        "Generated from the env's `ScenarioSpace`. **Bold**: the split's held-out axes,",
        "where it never overlaps `train`; `= train`: the split inherits train's range.",
        "",
        scenario_table(space),
        "",
        f"## {cls.__name__}",
        "",
        f"*From the class docstring of `{cls.__module__}.{cls.__name__}`.* {summary}",
        body,
        "",
    ]
    return "\n".join(lines)


def gallery_page(specs: list[Any]) -> str:
    """The gallery index: one row per env with its expert on ``train``."""
    lines = [
        "# Environment gallery",
        "",
        "Every env declares a scenario space with a `train` split and held-out splits;",
        "each page shows the scripted expert on every split, the scenario-space table and",
        "the env's own documentation. Plugins get the same treatment in their own docs",
        "(see [Write a plugin env](../tutorials/plugin.md)).",
        "",
        "| env | id | what it is | held-out splits | train |",
        "|---|---|---|---|---|",
    ]
    for spec in specs:
        env = _envs().make(spec.name)
        held = ", ".join(f"`{s}`" for s in env.unwrapped.scenario_space.heldout_splits)
        env.close()
        gif = _gallery_file(f"{spec.name}-train", ".gif")
        pic = f"![{spec.name}]({gif})" if gif else "(transcript)"
        lines.append(
            f"| [{spec.name}]({spec.name}.md) | `{spec.env_id}` | {spec.description} "
            f"| {held} | {pic} |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- benchmarks

_PROVENANCE = ("benchmark", "date", "machine", "python", "versions")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    elif isinstance(value, list):
        text = ", ".join(_cell(v) for v in value)
    elif value is None:
        text = "—"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _flatten(value: Any, prefix: str = "", depth: int = 2) -> dict[str, Any]:
    """Scalar leaves of nested dicts (and short scalar lists) as ``a.b`` columns."""
    out: dict[str, Any] = {}
    if isinstance(value, dict) and depth > 0:
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}.", depth - 1))
    elif isinstance(value, list):
        if len(value) <= 8 and all(not isinstance(v, (dict, list)) for v in value):
            out[prefix.rstrip(".")] = value
    elif not isinstance(value, dict):
        out[prefix.rstrip(".")] = value
    return out


def _records(value: Any) -> list[tuple[str, dict[str, Any]]] | None:
    """Rows of a table, if ``value`` is a list of dicts or a dict of dicts."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [(str(i), _flatten(v)) for i, v in enumerate(value)]
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return [(str(k), _flatten(v)) for k, v in value.items()]
    return None


def _table(key: str, rows: list[tuple[str, dict[str, Any]]], max_cols: int = 12) -> str:
    columns: list[str] = []
    for _, row in rows:
        columns += [c for c in row if c not in columns]
    shown = columns[:max_cols]
    lines = [
        "| " + " | ".join([key, *shown]) + " |",
        "|" + "---|" * (len(shown) + 1),
    ]
    for name, row in rows:
        lines.append("| " + " | ".join([name, *(_cell(row.get(c)) for c in shown)]) + " |")
    if len(columns) > max_cols:
        lines += ["", f"*{len(columns) - max_cols} more columns in the JSON file.*"]
    return "\n".join(lines)


def result_section(path: Path) -> str:
    """One result file: provenance, settings, tables and plot."""
    data = json.loads(path.read_text())
    versions = data.get("versions") or {}
    loads = {k: v for k, v in data.items() if k.startswith("load")}
    lines = [
        f"## {path.stem}",
        "",
        f"- Date: {data.get('date', 'not recorded in the file')}",
        f"- Machine: {_cell(data.get('machine', 'not recorded in the file')).rstrip(', ')}",
        f"- Python: {data.get('python', 'not recorded in the file')}",
        "- Versions: "
        + (", ".join(f"{k} {v}" for k, v in versions.items() if v) or "not recorded in the file"),
    ]
    lines += [f"- {k.replace('_', ' ')}: {_cell(v)}" for k, v in loads.items()]
    links = [f"[{p.name}](benchmarks/results/{p.name})" for p in _siblings(path)]
    lines += [f"- Files: {', '.join(links)}", ""]
    settings, tables = [], []
    for key, value in data.items():
        if key in _PROVENANCE or key in loads:
            continue
        rows = _records(value)
        if rows is not None:
            tables.append(f"**{key}**\n\n" + _table(key, rows))
        elif not isinstance(value, dict) or all(
            not isinstance(v, (dict, list)) for v in value.values()
        ):
            settings.append(f"| {key} | {_cell(value if value != {} else '—')} |")
    if settings:
        lines += ["| setting | value |", "|---|---|", *settings, ""]
    for table in tables:
        lines += [table, ""]
    png = path.with_suffix(".png")
    if png.exists():
        lines += [f"![{path.stem}](benchmarks/results/{png.name})", ""]
    return "\n".join(lines)


def _siblings(path: Path) -> list[Path]:
    return [p for p in (path, path.with_suffix(".png")) if p.exists()]


def benchmarks_page() -> str:
    """Every benchmark result, newest files first by name order."""
    lines = [
        "# Benchmarks",
        "",
        "Generated at build time from `benchmarks/results/*.json` (written by",
        "`python -m benchmarks.<name>`). Every number carries the date, machine and package",
        "versions it was measured with: speeds depend on the CPU and on what else ran (the",
        "load average), learning results on seeds and budgets. Re-run a script to measure",
        "your machine.",
        "",
    ]
    paths = sorted(RESULTS.glob("*.json"))
    lines += ["| result | measured | machine |", "|---|---|---|"]
    for path in paths:
        data = json.loads(path.read_text())
        machine = _cell(data.get("machine", "—")).rstrip(", ")
        lines.append(f"| [{path.stem}](#{path.stem}) | {data.get('date', '—')} | {machine} |")
    lines.append("")
    for path in paths:
        lines.append(result_section(path))
    return "\n".join(lines)
