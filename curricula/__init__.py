"""Curricula: schedulers that choose what to practise next, and their SB3 bridge.

>>> import curricula
>>> list(curricula.SCHEDULERS)
['uniform', 'narrow', 'linear', 'stages', 'learning-progress', 'plr', 'adversarial']
"""

from curricula.adversarial import AdversarialConfig, AdversarialScheduler
from curricula.base import CurriculumGuardError, CurriculumScheduler
from curricula.callback import CurriculumCallback
from curricula.learning_progress import LearningProgressConfig, LearningProgressScheduler
from curricula.plr import PLRConfig, PLRScheduler
from curricula.registry import SCHEDULERS, load_config, make_scheduler
from curricula.schedulers import (
    LinearConfig,
    LinearScheduler,
    NarrowConfig,
    NarrowScheduler,
    Stage,
    StagesConfig,
    StagesScheduler,
    UniformConfig,
    UniformScheduler,
)
from envs.config import from_mapping as parse_config  # the typed-config helper, by its old name

__all__ = [
    "SCHEDULERS",
    "AdversarialConfig",
    "AdversarialScheduler",
    "CurriculumCallback",
    "CurriculumGuardError",
    "CurriculumScheduler",
    "LearningProgressConfig",
    "LearningProgressScheduler",
    "LinearConfig",
    "LinearScheduler",
    "NarrowConfig",
    "NarrowScheduler",
    "PLRConfig",
    "PLRScheduler",
    "Stage",
    "StagesConfig",
    "StagesScheduler",
    "UniformConfig",
    "UniformScheduler",
    "load_config",
    "make_scheduler",
    "parse_config",
]
