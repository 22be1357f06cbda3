"""The transfer evaluator: how much practised skill carries over to unseen scenarios.

One policy
    ``evaluate_transfer(policy, env_name, splits=None, episodes=50, seed=0,
    env_kwargs=None, n_workers=1, progress=True) -> TransferReport`` runs ``episodes``
    episodes on each split (``train`` and the ``heldout-*`` splits). ``policy`` is
    anything with SB3's ``predict`` for one unbatched observation (an SB3 model,
    ``agents.runs.load_policy(run_dir)``, a scripted expert) or ``"expert"`` /
    ``"random"``. Every split uses a fixed list of reset seeds derived from ``seed``
    (:func:`episode_seeds`), identical for every policy compared: common random
    numbers. The random policy and the env's scripted expert run on the same seeds, so
    normalised score = (agent - random) / (expert - random) per split. Envs with a
    native batch (``vector_entry_point``) run each split's episodes side by side in one
    vector env, with the same per-episode seeds and results (see ``rollout``).
    ``TransferReport.table()`` is a markdown table (success, return, normalised score,
    length and the env's ``episode_info_keys``, each with a 95% CI; then generalisation
    gap = train - held-out and transfer ratio = held-out / train);
    ``.save(out_dir)`` writes ``report.json`` (arrays, seeds, versions), ``report.md``
    and ``scores.png`` atomically; ``TransferReport.load(path)`` reads one back.

Many runs (the sweep uses this)
    ``aggregate_runs({group: [TransferReport, ...]}, reps=2000, seed=0) -> GroupReport``
    (alias ``aggregate``) stacks each split's scores into rliable's
    ``runs x scenarios`` arrays and computes IQM, mean, median and optimality gap with
    stratified-bootstrap 95% CIs, and the probability of improvement of every group
    over every later one, with ``rliable.library`` / ``rliable.metrics``.
    ``GroupReport.table()``, ``.to_dict()``, ``.save(out_dir)`` (``report.json``,
    ``report.md``, ``groups.png``, ``transfer.png``).

Example:
    >>> from agents.evaluation import evaluate_transfer, aggregate_runs
    >>> expert = evaluate_transfer("expert", "point", episodes=5, progress=False)
    >>> random = evaluate_transfer("random", "point", episodes=5, progress=False)
    >>> [round(float(r.scores("train").mean()), 6) for r in (expert, random)]
    [1.0, 0.0]
    >>> groups = aggregate_runs({"expert": [expert], "random": [random]}, reps=50,
    ...                         improvement_reps=50)
    >>> groups.improvements[0].estimate.value
    1.0

The command line is ``python -m agents.evaluate RUN_DIR [RUN_DIR ...]`` (see
:mod:`agents.evaluate`).
"""

from agents.evaluation.aggregate import METRICS, GroupReport, Improvement, aggregate, aggregate_runs
from agents.evaluation.report import ALL_HELDOUT, SplitResult, TransferReport
from agents.evaluation.rollout import RandomPolicy, episode_seeds
from agents.evaluation.stats import Estimate
from agents.evaluation.transfer import EVAL_SEED, evaluate_transfer

__all__ = [
    "ALL_HELDOUT",
    "EVAL_SEED",
    "METRICS",
    "Estimate",
    "GroupReport",
    "Improvement",
    "RandomPolicy",
    "SplitResult",
    "TransferReport",
    "aggregate",
    "aggregate_runs",
    "episode_seeds",
    "evaluate_transfer",
]
