"""Command-line checks: every benchmark script rejects bad arguments before any work.

Each case calls a script's ``main(argv)`` with one bad argument and expects argparse's
usage error: ``SystemExit`` with code 2, a message on stderr naming the option, and no
output folder written. No measurement runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

# (script, bad arguments, text the error message must contain)
BAD_ARGS = [
    ("curriculum", ["--workers", "0"], "argument --workers: expected a positive integer, got 0"),
    ("curriculum", ["--checkpoints", "0"], "argument --checkpoints: expected a positive integer"),
    ("curriculum", ["--checkpoints", "-2"], "argument --checkpoints: expected a positive integer"),
    ("curriculum", ["--timesteps", "-1"], "--timesteps must be at least 1024"),
    ("curriculum", ["--timesteps", "2000", "--checkpoints", "2"], ">= 2048 for 2 checkpoints"),
    ("curriculum", ["--seeds", "0", "-1"], "--seeds must be whole numbers from 0"),
    ("curriculum", ["--seeds", "1", "1"], "--seeds must not repeat"),
    ("curriculum", ["--methods", "plr", "plr"], "--methods must not repeat"),
    ("curriculum", ["--methods", "nope"], "invalid choice: 'nope'"),
    ("robot_speed", ["--steps", "-1"], "argument --steps: expected a positive integer, got -1"),
    ("robot_speed", ["--rounds", "0"], "argument --rounds: expected a positive integer, got 0"),
    ("robot_speed", ["--frames", "0"], "argument --frames: expected a positive integer, got 0"),
    ("robot_speed", ["--quick", "--steps", "0"], "argument --steps: expected a positive integer"),
    ("dialogue_speed", ["--steps", "-1"], "argument --steps: expected a positive integer, got -1"),
    (
        "dialogue_speed",
        ["--repeats", "0"],
        "argument --repeats: expected a positive integer, got 0",
    ),
    (
        "dialogue_speed",
        ["--steps", "ten"],
        "argument --steps: expected a positive integer, got ten",
    ),
    ("driving_speed", ["--steps", "-1"], "argument --steps: expected a positive integer, got -1"),
    ("driving_speed", ["--steps", "0"], "argument --steps: expected a positive integer, got 0"),
    (
        "driving_speed",
        ["--highway-steps", "0"],
        "argument --highway-steps: expected a positive integer",
    ),
    (
        "driving_ppo",
        ["--timesteps", "-1"],
        "argument --timesteps: expected a positive integer, got -1",
    ),
    ("driving_ppo", ["--seeds", "-3"], "--seeds must be >= 0"),
    ("driving_ppo", ["--seeds", "x"], "argument --seeds: invalid int value"),
    ("copy_cost", ["--repeats", "0"], "argument --repeats: expected a positive integer, got 0"),
    ("probe", [], "--target NAME=POLICY:X,Y is required"),
    ("probe", ["--target", "driving=runs/x"], "--target must look like NAME=POLICY:X,Y"),
    ("probe", ["--target", "a=b:c,d", "--budget", "0"], "argument --budget: expected a positive"),
]


@pytest.mark.parametrize(
    ("script", "argv", "message"),
    BAD_ARGS,
    ids=[f"{script}{''.join(argv)}" for script, argv, _ in BAD_ARGS],
)
def test_bad_arguments_are_a_usage_error(
    script: str,
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = importlib.import_module(f"benchmarks.{script}")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        module.main([*argv, "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage:")  # argparse's usage, then the one-line error
    assert message in err
    assert not out.exists(), "a rejected command must not write anything"


SCRIPTS = sorted({script for script, _, _ in BAD_ARGS})


@pytest.mark.parametrize("script", SCRIPTS)
def test_out_must_be_a_folder(
    script: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = importlib.import_module(f"benchmarks.{script}")
    file = tmp_path / "results.txt"
    file.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--out", str(file)])
    assert exit_info.value.code == 2
    assert f"--out must be a folder, but {file} is a file" in capsys.readouterr().err
