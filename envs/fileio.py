"""The one place files are written atomically and version stamps are taken.

Every file the suite writes for others to read (run folders, reports, curriculum state,
sweep state, generated URDFs) goes through :func:`atomic_write`: a temporary file in the
same folder, then a rename, so a reader (or a ``kill -9``) sees the old file or the new
one, never half of one. It lives in ``envs`` (the bottom layer) so that every package can
use it.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "a" / "note.txt", "hello")
    >>> (folder / "a" / "note.txt").read_text()
    'hello'
    >>> sorted(versions())[:3]
    ['gymnasium', 'numpy', 'platform']
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

__all__ = ["TMP_PREFIX", "atomic_write", "atomic_write_all", "shown_path", "versions"]

TMP_PREFIX = ".tmp-"
"""Name prefix of the temporary files (a killed writer's leftovers can be found by it)."""

PACKAGES = (
    "practicegym",
    "gymnasium",
    "stable-baselines3",
    "sb3-contrib",
    "torch",
    "numpy",
    "pybullet",
)
"""The packages every version stamp names."""


def atomic_write(path: str | os.PathLike, data: bytes | str | Callable[[Path], None]) -> None:
    """Writes ``path`` through a temporary file in the same folder and a rename.

    The folder is created when missing; the file gets the usual permissions (``0o666``
    less the umask), not ``mkstemp``'s private ones.

    Args:
        path: The file to write.
        data: Bytes, text (UTF-8), or a function that writes a given temporary path (for
            savers such as ``model.save`` that want a file name).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        if callable(data):
            data(Path(tmp))
        else:
            Path(tmp).write_bytes(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_all(out_dir: str | os.PathLike, files: Mapping[str, bytes | str]) -> None:
    """Writes every ``name -> content`` into ``out_dir``, each with :func:`atomic_write`.

    Contents are rendered by the caller before this is called, so an interruption while
    computing them writes nothing; files are replaced in the given order (put the one
    readers look for, e.g. ``report.json``, last).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        atomic_write(out_dir / name, content)


def versions(*extra: str) -> dict[str, str]:
    """Python, platform and package versions (:data:`PACKAGES` and ``extra``).

    A package that is not installed is reported as ``"not installed"``.
    """
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in (*PACKAGES, *extra):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def shown_path(path: str | os.PathLike) -> str:
    """``path`` relative to the working directory when it lies below it, else as given.

    For paths written into committed files (results, model cards): a checkout's absolute
    location means nothing on another machine.
    """
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
