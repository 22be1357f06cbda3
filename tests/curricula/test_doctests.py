from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "curricula",
    "curricula.schedulers",
    "curricula.learning_progress",
    "curricula.registry",
    "curricula.callback",
    "curricula.adversarial",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
