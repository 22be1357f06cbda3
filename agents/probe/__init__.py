"""Scenario probing: where in its scenario space a policy breaks.

* :mod:`agents.probe.maps`: success rate and mean return on a grid over two parameters;
* :mod:`agents.probe.search`: an adversarial (Optuna) search for failing scenarios and
  seeds, compared with random sampling at the same episode budget;
* :mod:`agents.probe.cli`: ``python -m agents.probe RUN_OR_PRETRAINED map|adversarial``.
"""

from agents.probe.maps import Axis, ProbeMap, compute_map, make_axis, plot_map
from agents.probe.search import SearchResult, Trial, calibrate, load_failure, replay, search
from agents.probe.target import Episode, Target, load_target

__all__ = [
    "Axis",
    "Episode",
    "ProbeMap",
    "SearchResult",
    "Target",
    "Trial",
    "calibrate",
    "compute_map",
    "load_failure",
    "load_target",
    "make_axis",
    "plot_map",
    "replay",
    "search",
]
