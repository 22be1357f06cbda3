"""Scenario spaces: the named parameters that change a world, and the splits over them.

Why this file is long (about 770 lines): it is the suite's one data contract (parameters,
per-parameter and whole distributions, splits, difficulty and their dict forms), which
every env, curriculum and probe depends on; a quarter of it is its documentation.

A scenario is a plain ``dict[str, value]``. A :class:`ScenarioSpace` declares typed
parameters (:class:`Continuous`, :class:`Integer`, :class:`Categorical`), a ``train``
split and two or more held-out splits (``heldout-*``) that each leave train's range on at
least one parameter. A split is a :class:`ParamDistribution` — per parameter a
:class:`Range`, a :class:`Choice` or a :class:`Fixed` value. Curricula build other
distributions with :meth:`ScenarioSpace.at` (difficulty) or :class:`Levels` (replay of
concrete scenarios).

Example:
    >>> import numpy as np
    >>> space = ScenarioSpace(
    ...     params=[
    ...         Continuous("friction", 0.1, 1.2, unit="mu", easy="high"),
    ...         Categorical("weather", ("sun", "rain", "snow"), easy="sun"),
    ...     ],
    ...     splits={
    ...         "train": {"friction": (0.6, 1.2), "weather": ["sun", "rain"]},
    ...         "heldout-ice": {"friction": (0.1, 0.3)},
    ...         "heldout-snow": {"weather": "snow"},
    ...     },
    ... )
    >>> scenario = space.sample(np.random.default_rng(0), "heldout-ice")
    >>> 0.1 <= scenario["friction"] <= 0.3 and scenario["weather"] in ("sun", "rain")
    True
    >>> space.heldout_axes("heldout-snow")
    ('weather',)
    >>> space.at(0.0).sample(np.random.default_rng(1))
    {'friction': 1.2, 'weather': 'sun'}
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import yaml

__all__ = [
    "Categorical",
    "Choice",
    "Continuous",
    "Distribution",
    "Fixed",
    "Integer",
    "Levels",
    "Param",
    "ParamDistribution",
    "Range",
    "ScenarioSpace",
]

Scenario = dict[str, Any]
TRAIN = "train"
HELDOUT_PREFIX = "heldout-"


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Continuous:
    """A real-valued parameter.

    Attributes:
        name: Key of the parameter in a scenario dict.
        low: Smallest value the simulator supports.
        high: Largest value the simulator supports.
        unit: Physical unit, e.g. ``"m"`` or ``"1/m"``.
        description: One line a person reads in reports and errors.
        easy: Which end of the range is the easy one (``"low"`` or ``"high"``), or
            ``None`` when difficulty does not depend on it (then ``at(0)`` keeps its
            whole train range).
    """

    name: str
    low: float
    high: float
    unit: str = ""
    description: str = ""
    easy: Literal["low", "high"] | None = "low"

    kind = "continuous"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low <= self.high):
            raise ValueError(
                f"parameter {self.name!r}: need finite low <= high, got [{self.low}, {self.high}]"
            )
        if self.easy not in ("low", "high", None):
            raise ValueError(f"parameter {self.name!r}: easy must be 'low', 'high' or None")

    def coerce(self, value: Any) -> float:
        """Returns ``value`` as a float inside the supported range, or raises ValueError."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(
                f"scenario parameter {self.name!r} must be a number in "
                f"[{self.low}, {self.high}], got {value!r}"
            )
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range (10**400)
            number = math.inf if value > 0 else -math.inf
        if not (self.low <= number <= self.high):  # NaN fails every comparison
            raise ValueError(
                f"scenario parameter {self.name!r}={value!r} is outside its supported range "
                f"[{self.low}, {self.high}] {self.unit}".rstrip()
            )
        return number

    def describe(self) -> str:
        """Returns e.g. ``friction: continuous in [0.1, 1.2] mu``."""
        return f"{self.name}: continuous in [{self.low}, {self.high}] {self.unit}".rstrip()


@dataclass(frozen=True)
class Integer:
    """An integer parameter (see :class:`Continuous` for the attributes)."""

    name: str
    low: int
    high: int
    unit: str = ""
    description: str = ""
    easy: Literal["low", "high"] | None = "low"

    kind = "integer"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if int(self.low) != self.low or int(self.high) != self.high or self.low > self.high:
            raise ValueError(
                f"parameter {self.name!r}: need integers low <= high, got [{self.low}, {self.high}]"
            )
        if self.easy not in ("low", "high", None):
            raise ValueError(f"parameter {self.name!r}: easy must be 'low', 'high' or None")

    def coerce(self, value: Any) -> int:
        """Returns ``value`` as an int inside the supported range, or raises ValueError."""
        integral = isinstance(value, (int, np.integer)) or (
            isinstance(value, (float, np.floating)) and float(value).is_integer()
        )
        if isinstance(value, bool) or not integral:
            raise ValueError(
                f"scenario parameter {self.name!r} must be an integer in "
                f"[{self.low}, {self.high}], got {value!r}"
            )
        value = int(value)
        if not (self.low <= value <= self.high):
            raise ValueError(
                f"scenario parameter {self.name!r}={value} is outside its supported range "
                f"[{self.low}, {self.high}] {self.unit}".rstrip()
            )
        return value

    def describe(self) -> str:
        """Returns e.g. ``lanes: integer in [1, 4]``."""
        return f"{self.name}: integer in [{self.low}, {self.high}] {self.unit}".rstrip()


@dataclass(frozen=True)
class Categorical:
    """A parameter that takes one of a fixed set of values (strings, ints or bools).

    Attributes:
        name: Key of the parameter in a scenario dict.
        choices: Every value the simulator supports, in order from easiest to hardest
            when difficulty depends on it.
        description: One line a person reads in reports and errors.
        easy: The easiest choice (``at(0)`` fixes it when train allows it), or ``None``
            when difficulty does not depend on this parameter.
    """

    name: str
    choices: tuple[Any, ...]
    description: str = ""
    easy: Any = None
    unit: str = ""

    kind = "categorical"

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices or len(set(self.choices)) != len(self.choices):
            raise ValueError(f"parameter {self.name!r}: choices must be non-empty and unique")
        if self.easy is not None and self.easy not in self.choices:
            raise ValueError(
                f"parameter {self.name!r}: easy={self.easy!r} is not one of {list(self.choices)}"
            )

    def coerce(self, value: Any) -> Any:
        """Returns ``value`` if it is one of the choices, else raises ValueError."""
        if isinstance(value, np.generic):
            value = value.item()
        for choice in self.choices:
            if value == choice and type(value) is type(choice):
                return choice
        raise ValueError(
            f"scenario parameter {self.name!r}={value!r} is not a valid choice; "
            f"valid: {list(self.choices)}"
        )

    def describe(self) -> str:
        """Returns e.g. ``weather: one of ['sun', 'rain']``."""
        return f"{self.name}: one of {list(self.choices)}"


Param = Continuous | Integer | Categorical


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or not name.replace("_", "a").isalnum():
        raise ValueError(f"parameter names must be non-empty identifiers, got {name!r}")


# ----------------------------------------------------------------- per-param distributions


@dataclass(frozen=True)
class Range:
    """Uniform over ``[low, high]`` (continuous or integer parameters)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"Range needs low <= high, got [{self.low}, {self.high}]")

    def sample(self, param: Param, rng: np.random.Generator) -> Any:
        """Draws one value for ``param``."""
        return self.from_unit(param, rng.random())

    def from_unit(self, param: Param, u: float) -> Any:
        """Maps a uniform draw ``u`` in [0, 1) to a value for ``param``."""
        if isinstance(param, Integer):
            span = int(self.high) - int(self.low)
            return int(self.low) + min(int(u * (span + 1)), span)
        return self.low + u * (self.high - self.low)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies inside the range."""
        return self.low <= value <= self.high

    def overlaps(self, other: ParamDist, param: Param) -> bool:
        """Whether some value is possible under both ``self`` and ``other``."""
        low, high = _bounds(other)
        return max(self.low, low) <= min(self.high, high)

    def is_within(self, other: ParamDist) -> bool:
        """Whether every value of ``self`` is possible under ``other``."""
        return other.contains(self.low) and other.contains(self.high)

    def to_plain(self) -> list[float]:
        """YAML-friendly form: ``[low, high]``."""
        return [self.low, self.high]


@dataclass(frozen=True)
class Choice:
    """Uniform over a subset of a categorical parameter's choices."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("Choice needs at least one value")

    def sample(self, param: Param, rng: np.random.Generator) -> Any:
        """Draws one value."""
        return self.from_unit(param, rng.random())

    def from_unit(self, param: Param, u: float) -> Any:
        """Maps a uniform draw ``u`` in [0, 1) to one of the values."""
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one of the values."""
        return value in self.values

    def overlaps(self, other: ParamDist, param: Param) -> bool:
        """Whether some value is possible under both."""
        return any(other.contains(v) for v in self.values)

    def is_within(self, other: ParamDist) -> bool:
        """Whether every value of ``self`` is possible under ``other``."""
        return all(other.contains(v) for v in self.values)

    def to_plain(self) -> list[Any]:
        """YAML-friendly form: the list of values."""
        return list(self.values)


@dataclass(frozen=True)
class Fixed:
    """Always the same value."""

    value: Any

    def sample(self, param: Param, rng: np.random.Generator) -> Any:
        """Returns the value."""
        return self.value

    def from_unit(self, param: Param, u: float) -> Any:
        """Returns the value, whatever ``u``."""
        return self.value

    def contains(self, value: Any) -> bool:
        """Whether ``value`` equals the fixed value."""
        return value == self.value

    def overlaps(self, other: ParamDist, param: Param) -> bool:
        """Whether the fixed value is possible under ``other``."""
        return other.contains(self.value)

    def is_within(self, other: ParamDist) -> bool:
        """Whether the fixed value is possible under ``other``."""
        return other.contains(self.value)

    def to_plain(self) -> Any:
        """YAML-friendly form: the bare value."""
        return self.value


ParamDist = Range | Choice | Fixed


def _bounds(dist: ParamDist) -> tuple[float, float]:
    if isinstance(dist, Range):
        return dist.low, dist.high
    if isinstance(dist, Fixed):
        return dist.value, dist.value
    return min(dist.values), max(dist.values)


# ------------------------------------------------------------------ whole distributions


class Distribution(abc.ABC):
    """A distribution over whole scenarios; what an env samples from at each reset."""

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Scenario:
        """Draws one complete scenario."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (YAML/JSON friendly)."""


class ParamDistribution(Distribution):
    """Independent per-parameter distributions over a :class:`ScenarioSpace`.

    Args:
        space: The space the distribution lives in.
        dists: One :class:`Range`/:class:`Choice`/:class:`Fixed` per parameter name.
    """

    def __init__(self, space: ScenarioSpace, dists: Mapping[str, ParamDist]) -> None:
        missing = [p.name for p in space.params if p.name not in dists]
        if missing:
            raise ValueError(f"distribution lacks parameters {missing}")
        self.space = space
        self.dists = {p.name: dists[p.name] for p in space.params}
        self._pairs = [(p, self.dists[p.name]) for p in space.params]

    def sample(self, rng: np.random.Generator) -> Scenario:
        """Draws one complete scenario (one uniform draw per parameter, in one call)."""
        units = rng.random(len(self._pairs)).tolist()
        return {p.name: d.from_unit(p, u) for (p, d), u in zip(self._pairs, units, strict=True)}

    def contains(self, scenario: Mapping[str, Any]) -> bool:
        """Whether ``scenario`` is a possible draw of this distribution."""
        try:
            scenario = self.space.validate(scenario)
        except ValueError:
            return False
        return all(self.dists[name].contains(value) for name, value in scenario.items())

    def is_within(self, other: ParamDistribution) -> bool:
        """Whether every scenario this distribution can draw is possible under ``other``."""
        return all(self.dists[n].is_within(other.dists[n]) for n in self.dists)

    def to_dict(self) -> dict[str, Any]:
        """``{param: [low, high] | [choices] | value}``."""
        return {name: dist.to_plain() for name, dist in self.dists.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamDistribution) and self.dists == other.dists

    def __repr__(self) -> str:
        return f"ParamDistribution({self.to_dict()})"


class Levels(Distribution):
    """A finite set of concrete scenarios drawn with given probabilities (level replay).

    Args:
        scenarios: Complete scenarios (validated by the space).
        weights: Non-negative sampling weights, one per scenario (uniform if omitted).
        space: The space the scenarios belong to.
    """

    def __init__(
        self,
        space: ScenarioSpace,
        scenarios: Sequence[Mapping[str, Any]],
        weights: Sequence[float] | None = None,
    ) -> None:
        if not scenarios:
            raise ValueError("Levels needs at least one scenario")
        self.space = space
        self.scenarios = [space.validate(s) for s in scenarios]
        w = np.ones(len(scenarios)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(scenarios),) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("Levels weights must be finite, non-negative, one per scenario")
        if w.sum() <= 0:
            raise ValueError("Levels weights must not all be zero")
        self.weights = w / w.sum()

    def sample(self, rng: np.random.Generator) -> Scenario:
        """Draws one of the scenarios."""
        return dict(self.scenarios[int(rng.choice(len(self.scenarios), p=self.weights))])

    def to_dict(self) -> dict[str, Any]:
        """``{"levels": [...], "weights": [...]}``."""
        return {"levels": self.scenarios, "weights": self.weights.tolist()}


# ----------------------------------------------------------------------- the space


@dataclass
class ScenarioSpace:
    """Typed scenario parameters plus a ``train`` split and held-out splits.

    Args:
        params: The parameters, in a fixed order (it is the order of the context vector).
        splits: ``{split_name: {param_name: spec}}`` where a spec is ``(low, high)`` (a
            range), a list (a subset of choices) or a scalar (a fixed value). ``train``
            must be present; parameters it omits use their full supported range. Held-out
            splits (named ``heldout-*``, at least two) inherit train's spec for every
            parameter they omit.

    Raises:
        ValueError: A spec leaves its parameter's supported range, a split name is
            invalid, there are fewer than two held-out splits, or a held-out split
            overlaps train on every parameter (it would not be held out).
    """

    params: Sequence[Param]
    splits: Mapping[str, Mapping[str, Any]]
    _dists: dict[str, ParamDistribution] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.params = tuple(self.params)
        names = [p.name for p in self.params]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"scenario parameters must be non-empty and unique, got {names}")
        self._by_name = {p.name: p for p in self.params}
        if TRAIN not in self.splits:
            raise ValueError(f"a scenario space needs a {TRAIN!r} split; got {list(self.splits)}")
        bad = [s for s in self.splits if s != TRAIN and not s.startswith(HELDOUT_PREFIX)]
        if bad:
            raise ValueError(
                f"split names must be 'train' or start with 'heldout-'; invalid: {bad}"
            )
        self._dists = {TRAIN: self._parse_split(TRAIN, self.splits[TRAIN], None)}
        for name, spec in self.splits.items():
            if name != TRAIN:
                self._dists[name] = self._parse_split(name, spec, self._dists[TRAIN])
        if len(self.heldout_splits) < 2:
            raise ValueError(
                f"a scenario space needs at least two held-out splits, got {self.heldout_splits}"
            )
        for split in self.heldout_splits:
            if not self.heldout_axes(split):
                raise ValueError(
                    f"split {split!r} overlaps 'train' on every parameter, so it is not "
                    "held out; give it at least one parameter range train never covers"
                )

    # ----------------------------------------------------------------- parsing

    def _parse_split(
        self, split: str, spec: Mapping[str, Any], base: ParamDistribution | None
    ) -> ParamDistribution:
        unknown = sorted(set(spec) - set(self._by_name))
        if unknown:
            raise ValueError(
                f"split {split!r} names unknown parameters {unknown}; valid: {self.param_names}"
            )
        dists: dict[str, ParamDist] = {}
        for param in self.params:
            if param.name in spec:
                dists[param.name] = self._parse_param_dist(param, spec[param.name], split)
            elif base is not None:
                dists[param.name] = base.dists[param.name]
            else:
                dists[param.name] = self._full(param)
        return ParamDistribution(self, dists)

    def _parse_param_dist(self, param: Param, spec: Any, where: str) -> ParamDist:
        context = f"split {where!r}, parameter {param.name!r}"
        if isinstance(spec, (Range, Choice, Fixed)):
            dist = spec
        elif isinstance(param, Categorical):
            if isinstance(spec, (list, tuple)):
                dist = Choice(tuple(param.coerce(v) for v in spec))
            else:
                dist = Fixed(param.coerce(spec))
        elif isinstance(spec, (list, tuple)):
            if len(spec) != 2:
                raise ValueError(f"{context}: a range is [low, high], got {spec!r}")
            low, high = (param.coerce(v) for v in spec)
            if low > high:
                raise ValueError(f"{context}: range low {low} > high {high}")
            dist = Fixed(low) if low == high else Range(low, high)
        else:
            dist = Fixed(param.coerce(spec))
        for value in _extremes(dist):
            try:
                param.coerce(value)
            except ValueError as err:
                raise ValueError(f"{context}: {err}") from None
        return dist

    @staticmethod
    def _full(param: Param) -> ParamDist:
        if isinstance(param, Categorical):
            return Choice(param.choices)
        return Range(param.low, param.high)

    # ----------------------------------------------------------------- queries

    @property
    def param_names(self) -> list[str]:
        """Parameter names in declaration order."""
        return [p.name for p in self.params]

    @property
    def split_names(self) -> list[str]:
        """``train`` first, then the held-out splits."""
        return list(self._dists)

    @property
    def heldout_splits(self) -> list[str]:
        """Names of the held-out splits."""
        return [s for s in self._dists if s != TRAIN]

    def param(self, name: str) -> Param:
        """Returns the parameter called ``name`` (ValueError naming valid ones otherwise)."""
        if name not in self._by_name:
            raise ValueError(f"unknown scenario parameter {name!r}; valid: {self.param_names}")
        return self._by_name[name]

    def distribution(self, split: str | Distribution) -> Distribution:
        """Returns the distribution of ``split`` (a name), or ``split`` itself if it is one."""
        if isinstance(split, Distribution):
            return split
        if split not in self._dists:
            raise ValueError(f"unknown split {split!r}; valid: {self.split_names}")
        return self._dists[split]

    def sample(self, rng: np.random.Generator, split: str | Distribution = TRAIN) -> Scenario:
        """Draws a complete scenario from a split (name) or a distribution."""
        return self.distribution(split).sample(rng)

    def validate(self, scenario: Mapping[str, Any], *, partial: bool = False) -> Scenario:
        """Checks a scenario and returns it with canonical types, in parameter order.

        Args:
            scenario: ``{param_name: value}``.
            partial: Allow missing parameters (the result then has only those given).

        Raises:
            ValueError: Unknown names, missing names, wrong types or out-of-range values;
                the message lists the valid parameters and their ranges.
        """
        if not isinstance(scenario, Mapping):
            raise ValueError(f"a scenario must be a dict, got {type(scenario).__name__}")
        bad_keys = [k for k in scenario if not isinstance(k, str)]
        if bad_keys:
            raise ValueError(
                f"scenario parameter names must be strings, got {bad_keys!r}; valid "
                f"parameters: {self.describe()}"
            )
        unknown = sorted(set(scenario) - set(self._by_name))
        if unknown:
            raise ValueError(
                f"unknown scenario parameters {unknown}; valid parameters: {self.describe()}"
            )
        missing = [n for n in self.param_names if n not in scenario]
        if missing and not partial:
            raise ValueError(f"scenario lacks parameters {missing}; expected: {self.describe()}")
        return {p.name: p.coerce(scenario[p.name]) for p in self.params if p.name in scenario}

    def contains(self, scenario: Mapping[str, Any], split: str | None = None) -> bool:
        """Whether ``scenario`` is valid (and, given ``split``, a possible draw of it)."""
        if split is None:
            try:
                self.validate(scenario)
            except ValueError:
                return False
            return True
        return self._dists[self._check_split(split)].contains(scenario)

    def describe(self) -> str:
        """One line per parameter with its type and supported range."""
        return "; ".join(p.describe() for p in self.params)

    def heldout_axes(self, split: str) -> tuple[str, ...]:
        """Parameters on which held-out ``split`` never overlaps ``train``."""
        split = self._check_split(split)
        if split == TRAIN:
            return ()
        train, held = self._dists[TRAIN], self._dists[split]
        return tuple(
            p.name for p in self.params if not held.dists[p.name].overlaps(train.dists[p.name], p)
        )

    def is_within_train(self, distribution: Distribution) -> bool:
        """Whether every scenario ``distribution`` can draw lies inside ``train``."""
        train = self._dists[TRAIN]
        if isinstance(distribution, ParamDistribution):
            return distribution.is_within(train)
        if isinstance(distribution, Levels):
            return all(train.contains(s) for s in distribution.scenarios)
        return False

    def _check_split(self, split: str) -> str:
        if split not in self._dists:
            raise ValueError(f"unknown split {split!r}; valid: {self.split_names}")
        return split

    # ---------------------------------------------------------------- difficulty

    def at(self, difficulty: float) -> ParamDistribution:
        """Maps a difficulty in [0, 1] to a sub-distribution of ``train``.

        0 is the easiest corner of train (each parameter at its ``easy`` end), 1 is the
        whole train distribution, and the distributions grow monotonically in between:
        a range grows linearly from its easy end; a categorical choice list grows from
        the easiest allowed choice in declaration order. Parameters without an ``easy``
        end keep their whole train distribution at every difficulty.
        """
        if isinstance(difficulty, bool) or not isinstance(difficulty, (int, float, np.number)):
            raise ValueError(f"difficulty must be a number in [0, 1], got {difficulty!r}")
        d = float(difficulty)
        if not 0.0 <= d <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1], got {d}")
        train = self._dists[TRAIN]
        dists = {p.name: _grow(p, train.dists[p.name], d) for p in self.params}
        return ParamDistribution(self, dists)

    # ------------------------------------------------------------- context vector

    @property
    def context_size(self) -> int:
        """Length of :meth:`normalize`'s output (one-hot for categoricals)."""
        return sum(len(p.choices) if isinstance(p, Categorical) else 1 for p in self.params)

    def normalize(self, scenario: Mapping[str, Any]) -> np.ndarray:
        """Encodes a scenario as a float32 vector in [0, 1] (CARL-style visible context)."""
        parts: list[float] = []
        for p in self.params:
            value = scenario[p.name]
            if isinstance(p, Categorical):
                parts.extend(float(value == c) for c in p.choices)
            else:
                span = p.high - p.low
                parts.append(0.0 if span == 0 else (value - p.low) / span)
        return np.clip(np.asarray(parts, dtype=np.float32), 0.0, 1.0)

    # ------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form: ``{"params": [...], "splits": {...}}`` (round-trips)."""
        params = []
        for p in self.params:
            entry: dict[str, Any] = {"name": p.name, "kind": p.kind}
            if isinstance(p, Categorical):
                entry["choices"] = list(p.choices)
            else:
                entry.update(low=p.low, high=p.high, unit=p.unit)
            entry.update(description=p.description, easy=p.easy)
            params.append(entry)
        splits = {name: dist.to_dict() for name, dist in self._dists.items()}
        return {"params": params, "splits": splits}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioSpace:
        """Inverse of :meth:`to_dict`; rejects unknown keys and kinds."""
        unknown = set(data) - {"params", "splits"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; valid: ['params', 'splits']")
        kinds = {"continuous": Continuous, "integer": Integer, "categorical": Categorical}
        params = []
        for entry in data["params"]:
            entry = dict(entry)
            kind = entry.pop("kind", None)
            if kind not in kinds:
                raise ValueError(f"unknown parameter kind {kind!r}; valid: {list(kinds)}")
            try:
                params.append(kinds[kind](**entry))
            except TypeError as err:
                raise ValueError(f"bad {kind} parameter {entry}: {err}") from None
        return cls(params=params, splits=data["splits"])

    def to_yaml(self) -> str:
        """YAML form of :meth:`to_dict`."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> ScenarioSpace:
        """Inverse of :meth:`to_yaml` (``yaml.safe_load`` only)."""
        return cls.from_dict(yaml.safe_load(text))

    def distribution_from_dict(self, data: Mapping[str, Any]) -> Distribution:
        """Rebuilds a distribution from its ``to_dict`` form (partial dicts fill from train)."""
        if "levels" in data:
            return Levels(self, data["levels"], data.get("weights"))
        return self._parse_split("custom", data, self._dists[TRAIN])


def _extremes(dist: ParamDist) -> Iterable[Any]:
    if isinstance(dist, Range):
        return (dist.low, dist.high)
    if isinstance(dist, Fixed):
        return (dist.value,)
    return dist.values


def _grow(param: Param, train: ParamDist, d: float) -> ParamDist:
    """The part of ``train`` a learner sees at difficulty ``d`` (see ``ScenarioSpace.at``)."""
    if param.easy is None or isinstance(train, Fixed) or d >= 1.0:
        return train
    if isinstance(train, Range):
        if param.easy == "low":
            high = train.low + d * (train.high - train.low)
            low = train.low
        else:
            low = train.high - d * (train.high - train.low)
            high = train.high
        if isinstance(param, Integer):
            low, high = math.ceil(low - 1e-9), math.floor(high + 1e-9)
            return Fixed(int(low)) if low == high else Range(int(low), int(high))
        return Fixed(low) if low == high else Range(low, high)
    # Categorical choice subset: the easiest allowed choices first, in declaration order
    # starting from ``easy``.
    assert isinstance(param, Categorical)
    order = list(param.choices)
    start = order.index(param.easy)
    order = order[start:] + order[:start]
    allowed = [c for c in order if c in train.values]
    count = 1 + math.floor(d * (len(allowed) - 1) + 1e-9)
    chosen = tuple(allowed[:count])
    return Fixed(chosen[0]) if len(chosen) == 1 else Choice(chosen)
