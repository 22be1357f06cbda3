"""The command-line convention every practicegym CLI follows, and its argument types.

Every CLI is ``main(argv) -> int`` wrapped in :func:`cli_main`, so they all behave alike:

* bad input raises :class:`UsageError` (or is a bad flag value, which ``argparse``
  reports): one line ``<prog>: error: <what was wrong and what is valid>`` on stderr,
  exit status 2 (:data:`EXIT_USAGE`), no traceback and nothing written;
* Ctrl-C prints ``<prog>: interrupted`` and exits 130 (:data:`EXIT_INTERRUPTED`), the
  shell's code for SIGINT;
* ``--help`` exits 0.

The argument types are ``argparse`` ``type=`` callables; a bad value raises
``argparse.ArgumentTypeError``, which ``argparse`` turns into a usage error naming the flag.

Example:
    >>> positive_int("3")
    3
    >>> fraction("1.5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number in [0, 1], got 1.5
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "UsageError",
    "check_writable_folder",
    "cli_main",
    "fraction",
    "interrupted",
    "json_object",
    "nonneg_int",
    "positive_float",
    "positive_int",
    "seed_int",
    "usage_error",
    "worker_count",
]


EXIT_USAGE = 2
"""Exit status for bad input (as ``argparse``'s own usage errors)."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), in every CLI."""


class UsageError(ValueError):
    """Bad command-line input; the message says what was wrong and what is valid."""


def usage_error(prog: str, err: object) -> int:
    """Prints ``<prog>: error: <err>`` to stderr; returns :data:`EXIT_USAGE`."""
    print(f"{prog}: error: {err}", file=sys.stderr)
    return EXIT_USAGE


def interrupted(prog: str, detail: str = "") -> int:
    """Prints ``<prog>: interrupted`` (and ``detail``) to stderr; returns 130."""
    print(f"{prog}: interrupted" + (f"; {detail}" if detail else ""), file=sys.stderr)
    return EXIT_INTERRUPTED


def cli_main(prog: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Wraps a CLI's ``main(argv) -> int`` in the convention (see the module docstring).

    ``argparse``'s exits (``--help``: 0, a bad flag: 2) become return values, a
    :class:`UsageError` becomes one line and 2, ``KeyboardInterrupt`` one line and 130.

    Example:
        >>> @cli_main("demo")
        ... def main(argv=None):
        ...     raise UsageError("--x must be > 0, got -1")
        >>> import contextlib, io
        >>> with contextlib.redirect_stderr(io.StringIO()) as err:
        ...     code = main([])
        >>> code, err.getvalue().strip()
        (2, 'demo: error: --x must be > 0, got -1')
    """

    def wrap(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: Any = None) -> int:
            try:
                return main(argv)
            except SystemExit as exc:  # argparse: --help (0) or a bad flag (2)
                code = exc.code
                return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
            except UsageError as err:
                return usage_error(prog, err)
            except KeyboardInterrupt:
                return interrupted(prog)

        return run

    return wrap


def check_writable_folder(out: str | os.PathLike, *, keep: bool, flag: str = "--out") -> None:
    """Raises :class:`UsageError` unless folder ``out`` can be created and written now.

    Run before any work, so that an unwritable output is a usage error, not a crash at
    the end. A temporary file proves the folder is writable. With ``keep=False`` the
    folders this created are removed again (an interrupted run leaves nothing behind).
    """
    out = Path(out)
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise UsageError(
            f"{flag} {str(out)!r} cannot be written: {str(blocker)!r} is a file, not a folder"
        )
    created = [] if keep else [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UsageError(
            f"{flag} {str(out)!r} cannot be written: {err.strerror or err}; pass a writable folder"
        ) from None
    finally:
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def _checked(
    convert: Callable[[str], Any], valid: Callable[[Any], bool], expected: str
) -> Callable[[str], Any]:
    """A parser that converts with ``convert`` and accepts what ``valid`` says."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
nonneg_int = _checked(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _checked(float, lambda v: v > 0 and math.isfinite(v), "a positive finite number")
fraction = _checked(float, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")
seed_int = _checked(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32 - 1]")
MAX_WORKERS = 4 * (os.cpu_count() or 1)
worker_count = _checked(
    int, lambda v: 1 <= v <= MAX_WORKERS, f"an integer in [1, {MAX_WORKERS}] (4 per core)"
)


def json_object(text: str) -> dict[str, Any]:
    """A JSON object (``{"key": value, ...}``) given on the command line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value
