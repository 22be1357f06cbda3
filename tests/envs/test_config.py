"""The one typed-config helper (envs.config.from_mapping) that every package builds with."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from envs.config import check_keys, from_mapping


@dataclass(frozen=True)
class Inner:
    x: int = 0


@dataclass(frozen=True)
class Outer:
    rate: float = 1.0
    levels: tuple[int, ...] = ()
    inner: Inner = Inner()


class MyError(ValueError):
    pass


def test_builds_coerces_and_passes_instances_through():
    built = from_mapping(Outer, {"levels": [1, 2], "inner": {"x": 3}})
    assert built == Outer(levels=(1, 2), inner=Inner(3))
    assert from_mapping(Outer, built) is built
    assert from_mapping(Outer, None) == Outer()
    assert from_mapping(Outer, {}, rate=2.0).rate == 2.0  # defaults, overridden by data
    assert from_mapping(Outer, {"rate": 3.0}, rate=2.0).rate == 3.0


def test_unknown_keys_name_the_valid_ones_and_the_closest():
    with pytest.raises(ValueError) as err:
        from_mapping(Outer, {"rat": 1.0}, what="reward")
    assert str(err.value) == (
        "unknown reward keys ['rat']; valid: ['rate', 'levels', 'inner']. Did you mean 'rate'?"
    )


def test_errors_use_the_callers_type():
    with pytest.raises(MyError, match="Outer must be a Outer or a mapping, got list"):
        from_mapping(Outer, [1], error=MyError)
    with pytest.raises(MyError, match="unknown run keys"):
        check_keys({"nope": 1}, ["a"], "run", MyError)
    with pytest.raises(MyError, match="bad Inner values"):
        from_mapping(Inner, {"x": 1}, error=MyError, y=2)  # a default that is no field
