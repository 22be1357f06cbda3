"""Typed configs from plain mappings: the one helper every package builds its configs with.

Configs are frozen dataclasses; YAML, JSON and keyword arguments arrive as plain dicts.
:func:`from_mapping` turns one into the other and rejects unknown keys, naming the valid
ones (and the closest, when a key looks misspelt), so a typo never passes silently.
It lives in ``envs`` (the bottom layer) so that ``curricula`` and ``agents`` can use it too.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Weights:
    ...     progress: float = 1.0
    ...     bounds: tuple[float, ...] = (0.0, 1.0)
    >>> from_mapping(Weights, {"bounds": [0, 2]})
    Weights(progress=1.0, bounds=(0, 2))
    >>> from_mapping(Weights, {"progres": 2.0}, what="reward")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown reward keys ['progres']; valid: [...]. Did you mean 'progress'?
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["check_keys", "did_you_mean", "from_mapping"]

T = TypeVar("T")


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest valid names, or an empty string.

    Example:
        >>> did_you_mean("drivng", ["driving", "dialogue"])
        " Did you mean 'driving'?"
    """
    close = difflib.get_close_matches(name, list(valid), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def check_keys(
    data: Mapping[str, Any],
    valid: Iterable[str],
    what: str,
    error: type[Exception] = ValueError,
) -> None:
    """Raises ``error`` naming the keys of ``data`` that are not in ``valid``.

    Args:
        data: The mapping to check.
        valid: The accepted keys (reported in this order).
        what: What the mapping configures, for the message (``"reward"``, ``"run"``).
        error: The exception type to raise (a ``ValueError`` subclass, by convention).
    """
    valid = list(valid)
    unknown = sorted((k for k in data if k not in valid), key=str)
    if unknown:
        hint = did_you_mean(str(unknown[0]), [str(v) for v in valid])
        raise error(f"unknown {what} keys {unknown}; valid: {valid}.{hint}")


def from_mapping(
    cls: type[T],
    data: T | Mapping[str, Any] | None,
    *,
    what: str | None = None,
    error: type[Exception] = ValueError,
    **defaults: Any,
) -> T:
    """Builds the dataclass ``cls`` from ``data``, rejecting keys that are not its fields.

    ``data`` that already is a ``cls`` is returned as is; ``None`` gives the defaults.
    Lists become tuples for tuple-typed fields, and mappings become nested dataclasses
    (through their ``from_dict`` classmethod when they define one), so YAML data builds
    a config that compares equal to the one written in code.

    Args:
        cls: A dataclass type.
        data: ``None``, an instance of ``cls`` or a mapping of field values.
        what: What the config is called in messages (default: the class name).
        error: The exception type to raise (a ``ValueError`` subclass, by convention).
        **defaults: Field values used where ``data`` has none.

    Raises:
        ValueError: (or ``error``) ``data`` is not a mapping, names unknown keys, or the
            class rejects the values (missing or wrongly typed fields).
    """
    if isinstance(data, cls):
        return data
    what = what or cls.__name__
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise error(f"{what} must be a {cls.__name__} or a mapping, got {type(data).__name__}")
    fields = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    check_keys(data, fields, what, error)
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation that does not resolve: no coercion
        hints = {}
    values = {**defaults, **data}
    kwargs = {k: _coerce(hints[k], v) if k in hints else v for k, v in values.items()}
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise error(f"bad {what} values {dict(data)}: {err}") from None


def _coerce(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            if typing.get_origin(arg) is tuple or (
                dataclasses.is_dataclass(arg) and isinstance(value, Mapping)
            ):
                return _coerce(arg, value)
        return value
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_coerce(item, v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        from_dict = getattr(hint, "from_dict", None)
        return from_dict(value) if from_dict else from_mapping(hint, value)
    return value
