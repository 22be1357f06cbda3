"""Sweeps: the envs x algos x curricula x seeds matrix on Ray, from one laptop to a cluster.

A YAML sweep config lists the values of each axis; their cross product is the set of runs.
Every run is ``agents.train.main([...])`` — the training CLI itself, not a second trainer —
executed as a Ray task with declared CPU/GPU resources, then evaluated on every split with
the transfer evaluator. The sweep ends with the grouped rliable report (IQM with bootstrap
CIs, probability of improvement between groups)::

    python -m agents.sweep examples/sweeps/point-curricula.yaml            # local Ray
    python -m agents.sweep CONFIG.yaml --address auto                      # join a cluster
    python -m agents.sweep --resume runs/sweeps/point-curricula-20261128-120000
    python -m agents.sweep BIGGER.yaml --resume DIR --extend            # raise the budget

The sweep folder::

    <out>/sweep.yaml       the sweep config, as expanded (resume reads it)
    <out>/state.json       each run's status, attempts and errors (atomic writes)
    <out>/runs/<run_id>/attempt-<k>/<env>/<algo>-<seed>-<stamp>/   run folders + train.log
    <out>/results/<run_id>.json   one per finished run, written as it finishes
    <out>/results/<run_id>@t<N>.json   its result at an earlier budget N (after --extend)
    <out>/report.md, report.json  runs table, failures and the grouped report
    <out>/grouped/<env>/   the evaluator's grouped report (tables, PNGs)

A failed or killed run is retried up to ``retries`` times (a retry continues the killed
attempt's latest checkpoint); ``--resume`` skips finished runs. ``--extend`` continues
a sweep with a larger ``timesteps`` (nothing else may change): every run resumes its final
checkpoint to the new budget and is evaluated again. Each run gets a fresh
Ray worker process and trains on the device its task declared. Without ``--address`` a
local Ray starts here (``--num-cpus`` caps it); with it, the sweep joins that cluster
unchanged (nodes need practicegym installed and ``--out`` on a shared filesystem). Ray
is an optional extra: ``pip install -e ".[sweep]"``.

>>> cfg = SweepConfig.from_dict(
...     {"envs": ["point"], "algos": ["ppo"], "curricula": ["uniform", "linear"],
...      "seeds": [0, 1], "timesteps": 512}
... )
>>> [spec.run_id for spec in expand(cfg)]  # doctest: +NORMALIZE_WHITESPACE
['point-ppo-uniform-s0', 'point-ppo-uniform-s1', 'point-ppo-linear-s0',
 'point-ppo-linear-s1']

The package reads top-down: :mod:`~agents.sweep.config` (the typed YAML config),
:mod:`~agents.sweep.spec` (its expansion into runs), :mod:`~agents.sweep.state` (the state
file and resume selection), :mod:`~agents.sweep.task` (one run: train, then evaluate),
:mod:`~agents.sweep.report` (the grouped report), :mod:`~agents.sweep.driver`
(:func:`run_sweep` on Ray) and :mod:`~agents.sweep.cli` (``main``).
"""

# Everything the single-module agents/sweep.py offered stays importable from here; the
# names outside __all__ (constants, helpers, _import_ray, _record_result) are used by
# benchmarks and tests.
from agents.sweep.cli import main
from agents.sweep.config import (
    EvaluationSettings,
    Resources,
    SweepConfig,
    SweepConfigError,
    load_config,
)
from agents.sweep.config import format_override as format_override
from agents.sweep.driver import INSTALL_HINT as INSTALL_HINT
from agents.sweep.driver import RayMissingError as RayMissingError
from agents.sweep.driver import SweepResult, run_sweep
from agents.sweep.driver import _import_ray as _import_ray
from agents.sweep.report import aggregate_groups as aggregate_groups
from agents.sweep.report import transfer_reports, write_report
from agents.sweep.spec import RunSpec, expand
from agents.sweep.state import CONFIG as CONFIG
from agents.sweep.state import DONE as DONE
from agents.sweep.state import FAILED as FAILED
from agents.sweep.state import PENDING as PENDING
from agents.sweep.state import RUNNING as RUNNING
from agents.sweep.state import STATE as STATE
from agents.sweep.state import RunRecord, SweepState
from agents.sweep.state import record_result as _record_result  # noqa: F401 (tests use it)
from agents.sweep.task import RunRejectedError as RunRejectedError
from agents.sweep.task import TrainFn as TrainFn
from agents.sweep.task import execute_run as execute_run
from agents.sweep.task import find_run_dir as find_run_dir
from agents.sweep.task import split_scores as split_scores
from envs.fileio import atomic_write as atomic_write_text  # noqa: F401 (benchmarks/transfer.py)

__all__ = [
    "EvaluationSettings",
    "Resources",
    "RunRecord",
    "RunSpec",
    "SweepConfig",
    "SweepConfigError",
    "SweepResult",
    "SweepState",
    "expand",
    "load_config",
    "main",
    "run_sweep",
    "transfer_reports",
    "write_report",
]
