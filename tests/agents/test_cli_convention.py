"""Every agents CLI follows one convention: one usage-error line and exit 2, 130 on Ctrl-C."""

from __future__ import annotations

import importlib

import pytest

from agents.cli_types import EXIT_INTERRUPTED, UsageError, cli_main

CLIS = [
    "agents.train",
    "agents.evaluate",
    "agents.enjoy",
    "agents.sweep.cli",
    "agents.probe.cli",
    "agents.pretrained",
    "agents.modelfile",
]


@pytest.mark.parametrize("module", CLIS)
def test_every_cli_is_wrapped_and_reports_bad_flags_in_one_form(module, capsys):
    mod = importlib.import_module(module)
    assert hasattr(mod.main, "__wrapped__"), f"{module}.main is not wrapped in cli_main"
    assert mod.main(["--no-such-flag"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"{mod.PROG}: error: ")
    assert mod.main(["--help"]) == 0


@pytest.mark.parametrize("module", CLIS)
def test_ctrl_c_exits_130_with_one_line(module, monkeypatch, capsys):
    mod = importlib.import_module(module)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("argparse.ArgumentParser.parse_args", interrupt)
    assert mod.main([]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == f"{mod.PROG}: interrupted"


def test_usage_errors_are_one_line_without_traceback(capsys):
    @cli_main("demo")
    def main(argv=None):
        raise UsageError("--x must be > 0, got -1")

    assert main([]) == 2
    assert capsys.readouterr().err == "demo: error: --x must be > 0, got -1\n"
