"""Argument types for the command-line tools: each parses one value or says what is valid.

Used as ``argparse`` ``type=`` callables; a bad value raises
``argparse.ArgumentTypeError``, which ``argparse`` turns into a usage error (exit 2)
naming the flag.

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
import json
import math
import os
from collections.abc import Callable
from typing import Any

__all__ = [
    "fraction",
    "json_object",
    "nonneg_int",
    "positive_float",
    "positive_int",
    "seed_int",
    "worker_count",
]


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
