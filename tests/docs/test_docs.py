"""The documentation site: it builds strictly, its links resolve, its pages follow the code.

The site build (``mkdocs build --strict``, ~20 s) runs once per session; the tests that
need it skip when the ``docs`` extra is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import envs
from envs import Categorical, Continuous, ScenarioSpace

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GALLERY = DOCS / "assets" / "gallery"
RESULTS = ROOT / "benchmarks" / "results"


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings_handlers.python")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


# --------------------------------------------------------------------------- the built site


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if value and (name == "src" or (name == "href" and tag in ("a", "link"))):
                self.links.append((tag, value))


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _target(page: Path, url: str, site: Path) -> tuple[Path, str]:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if path.startswith("/"):  # 404.html: absolute from the site root
        target = (site / path.lstrip("/")).resolve()
    else:
        target = page if not path else (page.parent / path).resolve()
    if target.is_dir():
        target = target / "index.html"
    assert site.resolve() in (target.resolve(), *target.resolve().parents), url
    return target, parts.fragment


def test_site_has_no_broken_internal_links(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    parsed = {page.resolve(): _parse(page) for page in pages}
    broken = []
    for page, links in parsed.items():
        for _tag, url in links.links:
            if urlsplit(url).scheme or url.startswith(("//", "mailto:", "data:")):
                continue
            target, fragment = _target(page, url, site)
            if not target.exists():
                broken.append(f"{page.relative_to(site.resolve())}: {url}")
            elif fragment and target.suffix == ".html":
                ids = parsed[target.resolve()].ids if target.resolve() in parsed else set()
                if fragment not in ids:
                    broken.append(f"{page.relative_to(site.resolve())}: {url} (no anchor)")
    assert not broken, "\n".join(broken[:50])


def test_site_fetches_nothing_from_the_network(site):
    # Links to other sites are fine; scripts, stylesheets, fonts and images are not.
    external = []
    for page in site.rglob("*.html"):
        for tag, url in _parse(page).links:
            if tag != "a" and (urlsplit(url).scheme in ("http", "https") or url.startswith("//")):
                external.append(f"{page.relative_to(site)}: <{tag}> {url}")
    assert not external, external
    css = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.css"))
    assert "fonts.googleapis" not in css and "fonts.gstatic" not in css


def test_every_env_page_shows_its_gallery_and_scenario_table(site):
    for spec in hooks._builtin_specs():
        html = (site / "envs" / spec.name / "index.html").read_text(encoding="utf-8")
        env = envs.make(spec.name)
        space = env.unwrapped.scenario_space
        modes = env.metadata["render_modes"]
        first_line = type(env.unwrapped).__doc__.strip().splitlines()[0]
        env.close()
        for split in space.split_names:
            assert f">{split}<" in html, (spec.name, split)
            if "rgb_array" in modes:
                assert f"{spec.name}-{split}.gif" in html, (spec.name, split)
        for param in space.param_names:
            assert f"<code>{param}</code>" in html, (spec.name, param)
        assert " ".join(first_line.split()[:5]) in html  # from the class docstring itself


def test_benchmarks_page_carries_every_result_with_its_provenance(site):
    html = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    for path in sorted(RESULTS.glob("*.json")):
        assert f'id="{path.stem}"' in html, path.name
        date = json.loads(path.read_text()).get("date")
        if date:
            assert date in html, path.name
        if path.with_suffix(".png").exists():
            assert (site / "benchmarks" / "results" / f"{path.stem}.png").exists()


# --------------------------------------------------------------------------- generated from code


def _space(high: float) -> ScenarioSpace:
    return ScenarioSpace(
        params=[
            Continuous("gap", 0.0, 5.0, unit="m", description="start gap"),
            Categorical("colour", ("red", "blue", "green")),
        ],
        splits={
            "train": {"gap": (0.0, high), "colour": ["red", "blue"]},
            "heldout-far": {"gap": (4.0, 5.0)},
            "heldout-green": {"colour": "green"},
        },
    )


def test_scenario_table_follows_the_space():
    table = hooks.scenario_table(_space(1.0))
    header, _, gap, colour = table.splitlines()
    assert header.split(" | ")[3:] == ["train", "heldout-far", "heldout-green |"]
    assert "| [0, 1] |" in gap and "**[4, 5]**" in gap and gap.endswith("= train |")
    assert "{red, blue}" in colour and "**green**" in colour
    # Changing a range in code changes the page.
    assert "| [0, 2] |" in hooks.scenario_table(_space(2.0))


def test_docstring_markdown_fences_doctests_and_demotes_headings():
    doc = """Summary.

    ## Description
    Uses :class:`~envs.core.ScenarioEnv`.

    >>> 1 + 1
    2
    """
    text = hooks.docstring_markdown(doc)
    assert "### Description" in text
    assert "`ScenarioEnv`" in text and ":class:" not in text
    assert "```pycon\n>>> 1 + 1\n2\n```" in text


def test_gallery_pictures_exist_for_every_env_and_split():
    for spec in hooks._builtin_specs():
        env = envs.make(spec.name)
        splits = env.unwrapped.scenario_space.split_names
        suffix = ".gif" if "rgb_array" in env.metadata["render_modes"] else ".txt"
        env.close()
        for split in splits:
            path = GALLERY / f"{spec.name}-{split}{suffix}"
            assert path.exists(), f"{path.name}: run `python docs/render_gallery.py {spec.name}`"
            assert path.stat().st_size < 200_000, f"{path.name} is too large for the repo"


# --------------------------------------------------------------------------- README


README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_a_short_front_door():
    assert len(README.splitlines()) <= 160
    assert not re.search(r"\b\d{1,2}:\d{2}\s*UTC\b", README), "no timestamps in prose"
    assert "--index-url https://download.pytorch.org/whl/cpu" in README


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^run_pytest pytest$", ci, flags=re.M)
    assert re.search(r"^pytest$", README, flags=re.M)
    assert "mkdocs build --strict" in ci


def test_readme_local_links_exist():
    for url in re.findall(r"\]\(([^)]+)\)", README):
        if urlsplit(url).scheme:
            continue
        assert (ROOT / unquote(urlsplit(url).path)).exists(), url


# --------------------------------------------------------------------------- tutorials


def _tutorial(name: str, *args: str, timeout: int = 900) -> str:
    # Tutorials run as a user runs them (`python docs/tutorials/x.py`), on this checkout.
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(DOCS / "tutorials" / name), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": pythonpath},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_tutorial_plugin_env():
    out = _tutorial("plugin_env.py")
    assert "line passes the conformance kit" in out
    assert "expert success on heldout-far: True" in out


@pytest.mark.slow
def test_tutorial_train_transfer(tmp_path):
    out = _tutorial(
        "train_transfer.py", "--timesteps", "256", "--episodes", "2", "--out", str(tmp_path)
    )
    assert "heldout-curves" in out
    assert (next((tmp_path / "driving").iterdir()) / "transfer" / "report.json").exists()


@pytest.mark.slow
def test_tutorial_curriculum(tmp_path):
    out = _tutorial("curriculum.py", "--timesteps", "256", "--out", str(tmp_path))
    assert "refused:" in out and "difficulty" in out
    assert (next((tmp_path / "driving").iterdir()) / "model.zip").exists()


@pytest.mark.slow
def test_tutorial_perception(tmp_path):
    _tutorial(
        "perception.py",
        *("--frames", "256", "--epochs", "1", "--timesteps", "256", "--out", str(tmp_path)),
    )
    assert (next((tmp_path / "driving").iterdir()) / "model.zip").exists()


@pytest.mark.slow
def test_tutorial_sweep(tmp_path):
    pytest.importorskip("ray")
    out = _tutorial(
        "sweep.py",
        *("--timesteps", "256", "--seeds", "1", "--episodes", "2", "--out", str(tmp_path)),
    )
    assert "uniform" in out and "linear" in out


@pytest.mark.slow
def test_tutorial_probe(tmp_path):
    out = _tutorial(
        "probe.py",
        *("--grid", "3x3", "--episodes", "2", "--budget", "12", "--out", str(tmp_path)),
    )
    assert "map axes: ['curvature', 'friction']" in out and "failures found" in out


def test_readme_results_table_matches_its_result_file():
    data = json.loads((RESULTS / "throughput.json").read_text())["single_median"]
    rows = re.findall(r"^\| ([^|]+?) \| ([\d,.]+) \| ([^|]+?) \| ([\d,.]+) \|$", README, re.M)
    assert len(rows) >= 4
    for (*pairs,) in rows:
        for name, shown in (pairs[:2], pairs[2:]):
            value = data[name]
            digits = len(shown.replace(",", "").partition(".")[2])
            assert float(shown.replace(",", "")) == round(value, digits), (name, shown, value)


def test_tutorial_pages_show_their_scripts(site):
    # Each page includes its script (pymdownx.snippets): the docstring's first words show.
    for page, words in (
        ("curriculum", "practise under a curriculum"),
        ("plugin", "write a plugin env that gets curricula"),
        ("train-transfer", "then measure what transfers to held-out splits"),
    ):
        html = (site / "tutorials" / page / "index.html").read_text()
        assert words in html, f"{page}: the tutorial script is not included"
