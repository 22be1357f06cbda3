"""The one way a module that registers envs is imported: ``--env-module`` or a run's record.

``agents.train --env-module M`` imports ``M`` (a package's module that calls
``envs.register``) and records ``env_module: M`` in the run's ``config.yaml``; loading the
run later (evaluate, enjoy, probe, ``train --resume``) imports ``M`` again so its env is
registered. Both go through :func:`import_env_module`, which raises
:class:`~agents.config.ConfigError` (a ``ValueError``) naming the module and what went wrong.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

from agents.config import ConfigError

__all__ = ["import_env_module"]

_ANNOUNCED: set[str] = set()


def import_env_module(name: object, *, run_dir: str | Path | None = None) -> None:
    """Imports ``name``, a module that registers envs (nothing when it is empty).

    Importing runs the module's top-level code. Without ``run_dir`` the name comes from
    the command line (``--env-module``; env workers repeat it). With ``run_dir`` it is the
    one the run's ``config.yaml`` records, so load only run folders you trust: the module
    must be importable, it is located without running anything, a module whose files lie
    in the folder holding the run's env folders (``run_dir/../..``, where shared run
    folders are unpacked) is refused (code shipped beside a run folder is not imported),
    and which module is imported is printed to stderr once per process.

    Raises:
        ConfigError: Not a module name, not importable, refused, or its import raised.
    """
    if not name:
        return
    where = "--env-module" if run_dir is None else "the run's config.yaml records env_module"
    if (
        not isinstance(name, str)
        or name.startswith(".")
        or not all(part.isidentifier() for part in name.split("."))
    ):
        raise ConfigError(f"{where} {name!r} is not a module name (e.g. my_package.envs)")
    if run_dir is not None:
        _check_recorded(name, Path(run_dir), where)
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise ConfigError(f"{where} {name!r} cannot be imported: {err}") from None
    except Exception as err:  # the module's own top-level code failed
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ConfigError(
            f"{where} {name!r} raised {type(err).__name__} on import: {first}"
        ) from None


def _check_recorded(name: str, run_dir: Path, where: str) -> None:
    try:
        found = _module_paths(name)
    except (ImportError, ValueError, TypeError):
        found = None
    if found is None:
        raise ConfigError(
            f"{where} {name!r}, which cannot be imported; install the package that provides "
            "it or put it on PYTHONPATH"
        )
    root = run_dir.resolve().parent.parent
    inside = [p for p in found if p == root or root in p.parents]
    if inside:
        raise ConfigError(
            f"{where} {name!r}, whose code lies in {inside[0]} beside the run folders; "
            "refusing to import code shipped with run folders (install it as a package if "
            "you trust it)"
        )
    if name not in _ANNOUNCED:
        _ANNOUNCED.add(name)
        print(
            f"note: importing env module {name!r} recorded in the run's config.yaml",
            file=sys.stderr,
        )


def _module_paths(name: str) -> list[Path] | None:
    """Files and folders ``name`` (dotted) would be imported from, found without importing.

    ``importlib.util.find_spec("a.b")`` would import package ``a`` (running its
    ``__init__``); here each level is located with the path finder only.
    """
    parts = name.split(".")
    spec = importlib.util.find_spec(parts[0])  # a top-level name: nothing is imported
    paths: list[Path] = []
    for i in range(len(parts)):
        if spec is None:
            return None
        if spec.origin and spec.has_location:
            paths.append(Path(spec.origin).resolve())
        locations = list(spec.submodule_search_locations or [])
        paths.extend(Path(p).resolve() for p in locations)
        if i + 1 < len(parts):
            if not locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: i + 2]), locations)
    return paths
