"""The sweep folder's state file: every run's status, attempts and errors, written atomically.

A resume reads it back and selects the runs that are not finished (:meth:`SweepState.todo`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.sweep.config import SweepConfig, SweepConfigError
from agents.sweep.spec import RunSpec, expand
from envs.fileio import atomic_write

STATE = "state.json"
CONFIG = "sweep.yaml"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


@dataclass
class RunRecord:
    """What the sweep knows about one run (one entry of ``state.json``).

    Attributes:
        spec: The run.
        status: ``pending``, ``running``, ``done`` or ``failed``.
        attempts: Attempts started, over every invocation of the sweep.
        errors: One line per failed attempt: ``attempt k: reason``.
        run_dir: The training run folder (set once it is known).
        result: Path of ``results/<run_id>.json`` relative to the sweep folder.
        duration_s: Wall time of the successful attempt.
        host: Node that ran the successful attempt.
    """

    spec: RunSpec
    status: str = PENDING
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    run_dir: str | None = None
    result: str | None = None
    duration_s: float | None = None
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "spec": self.spec.to_dict(),
            "status": self.status,
            "attempts": self.attempts,
            "errors": list(self.errors),
            "run_dir": self.run_dir,
            "result": self.result,
            "duration_s": self.duration_s,
            "host": self.host,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["spec"] = RunSpec.from_dict(data["spec"])
        return cls(**data)


class SweepState:
    """The sweep folder's ``state.json``: every run's record, saved atomically.

    Args:
        out_dir: The sweep folder.
        records: Run id -> record, in sweep order.
        extensions: Budget extensions so far (:meth:`extend`), oldest first.
    """

    def __init__(
        self,
        out_dir: Path,
        records: dict[str, RunRecord],
        extensions: list[dict[str, Any]] | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.records = records
        self.extensions = list(extensions or [])

    @classmethod
    def create(cls, out_dir: str | Path, config: SweepConfig) -> SweepState:
        """Starts a new sweep folder (``sweep.yaml`` + ``state.json``).

        Raises:
            SweepConfigError: ``out_dir`` already holds a sweep (use resume).
        """
        out_dir = Path(out_dir)
        check_new_folder(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(out_dir / CONFIG, yaml.safe_dump(config.to_dict(), sort_keys=False))
        state = cls(out_dir, {s.run_id: RunRecord(s) for s in expand(config)})
        state.save()
        return state

    @classmethod
    def load(cls, out_dir: str | Path) -> SweepState:
        """Reads a sweep folder's state.

        Raises:
            SweepConfigError: No or unreadable ``state.json``.
        """
        path = Path(out_dir) / STATE
        if not path.is_file():
            raise SweepConfigError(f"{out_dir} is not a sweep folder (no {STATE})")
        try:
            data = json.loads(path.read_text())
            records = {k: RunRecord.from_dict(v) for k, v in data["runs"].items()}
            extensions = list(data.get("extensions", []))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SweepConfigError(f"{path} is unreadable: {err}") from None
        return cls(Path(out_dir), records, extensions)

    def save(self) -> None:
        """Writes ``state.json`` atomically."""
        data = {
            "version": 1,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": self.counts(),
            "runs": {k: r.to_dict() for k, r in self.records.items()},
            "extensions": self.extensions,
        }
        atomic_write(self.out_dir / STATE, json.dumps(data, indent=2) + "\n")

    def counts(self) -> dict[str, int]:
        """Number of runs per status."""
        out = {PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0}
        for record in self.records.values():
            out[record.status] += 1
        return out

    def is_finished(self, run_id: str) -> bool:
        """Whether the run is done and its result file exists (a resume skips it)."""
        record = self.records[run_id]
        return (
            record.status == DONE
            and record.result is not None
            and (self.out_dir / record.result).is_file()
        )

    def todo(self) -> list[str]:
        """Run ids still to run, in sweep order; resets interrupted/failed ones to pending."""
        out = []
        for run_id, record in self.records.items():
            if not self.is_finished(run_id):
                record.status = PENDING
                out.append(run_id)
        return out

    def extend(self, saved: SweepConfig, config: SweepConfig) -> None:
        """Continues the sweep with a larger budget (``config`` = ``saved`` but ``timesteps``).

        Every run goes back to pending with the new budget; a run that had finished keeps
        its result as ``results/<run_id>@t<old>.json`` and its next attempt continues its
        final checkpoint (``agents.train --resume RUN --timesteps NEW``) instead of starting
        over. ``sweep.yaml`` becomes ``config``; the extension is listed in ``state.json``.
        Nothing is written when ``config`` equals ``saved``.

        Raises:
            SweepConfigError: ``config`` is not such an extension of ``saved``.
        """
        budgets = config.extension_of(saved)
        if budgets is None:
            return
        old, new = budgets
        for run_id, record in self.records.items():
            if self.is_finished(run_id):
                kept = f"results/{run_id}@t{old}.json"
                (self.out_dir / str(record.result)).replace(self.out_dir / kept)
                record.result = None
            record.spec = dataclasses.replace(record.spec, timesteps=new)
            record.status = PENDING
        self.extensions.append({"from": old, "to": new, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        atomic_write(self.out_dir / CONFIG, yaml.safe_dump(config.to_dict(), sort_keys=False))
        self.save()

    def result(self, run_id: str) -> dict[str, Any] | None:
        """The saved result of a finished run."""
        if not self.is_finished(run_id):
            return None
        return json.loads((self.out_dir / str(self.records[run_id].result)).read_text())


def record_result(state: SweepState, record: RunRecord, result: dict[str, Any]) -> None:
    """Saves a finished run's result as ``results/<run_id>.json`` and marks the run done."""
    rel = f"results/{record.spec.run_id}.json"
    payload = {"spec": record.spec.to_dict(), "attempt": record.attempts, **result}
    atomic_write(state.out_dir / rel, json.dumps(payload, indent=2, default=str) + "\n")
    record.status = DONE
    record.result = rel
    record.run_dir = result["run_dir"]
    record.duration_s = float(result["duration_s"])
    record.host = result.get("host")


def check_new_folder(out_dir: Path) -> None:
    """Raises SweepConfigError if ``out_dir`` already holds a sweep (resume it instead)."""
    if (out_dir / STATE).exists():
        raise SweepConfigError(
            f"{out_dir} already holds a sweep ({STATE}); continue it with --resume {out_dir} "
            "or choose another --out"
        )
