"""Dialogue from words: the text-CNN NLU's F1 per split, and policies through it.

Pipeline (small defaults; every number lands in ``benchmarks/results/dialogue-nlu.*``):

1. collect ``--utterances`` user utterances from the dialogue env's ``train`` split
   (restaurant and hotel only: the held-out attraction domain's templates and values are
   never seen) and train the text-CNN NLU (``--epochs``, word dropout/typo augmentation),
   unless ``--model`` names a trained one;
2. NLU act / slot / request / frame F1 and exact match on fresh utterances of every split,
   and exact match on a deterministic set (the canonical rendering of every act shape of
   the train domains);
3. NLU cost: milliseconds per utterance, one at a time (as the env calls it) and batched,
   and env steps/s through each channel;
4. the handcrafted expert's success through the synthetic channel and through the NLU
   channel on every split, with the same episode seeds (common random numbers: the same
   users and goals under both channels);
5. optionally (``--ppo-timesteps``) MaskablePPO with the recipe of
   ``agents/hyperparams/maskable-ppo.yaml``, trained through each channel on ``train`` and
   evaluated through both channels on every split.

Usage::

    python -m benchmarks.dialogue_nlu                       # writes benchmarks/results
    python -m benchmarks.dialogue_nlu --utterances 2000 --epochs 2 --episodes 20 --out /tmp/b
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

import envs
from agents.cli_types import nonneg_int, positive_int
from agents.perception.data import CollectConfig, collect
from agents.perception.text import (
    TextConfig,
    TextNLU,
    evaluate_text,
    format_text_table,
    load_nlu,
    load_text_dataset,
    nlu_metrics,
    predict_semantics,
    train_text_model,
)
from benchmarks import report
from envs.dialogue.domain import load_domain
from envs.dialogue.nlg import TemplateNLG, example_acts, semantics

SPLITS = ("train", "heldout-domain", "heldout-noise", "heldout-users")
RECIPE = Path(__file__).resolve().parents[1] / "agents" / "hyperparams" / "maskable-ppo.yaml"


def _env(split: str, channel: str, nlu: TextNLU) -> Any:
    kwargs = {"channel": "nlu", "nlu_model": nlu} if channel == "nlu" else {}
    return envs.make("dialogue", split=split, **kwargs)


def run_episodes(env: Any, act: Any, episodes: int, seed: int) -> dict[str, float]:
    """Success rate, mean return and turns of ``act(env, obs)`` over seeded episodes."""
    successes, returns, turns = [], [], []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(env, obs))
            total += float(reward)
            done = terminated or truncated
        successes.append(bool(info["is_success"]))
        returns.append(total)
        turns.append(info["turns"])
    return {
        "success": float(np.mean(successes)),
        "return": float(np.mean(returns)),
        "turns": float(np.mean(turns)),
        "episodes": episodes,
    }


def round_trip(nlu: TextNLU) -> dict[str, Any]:
    """NLU metrics on the canonical rendering of every act shape of the train domains."""
    texts, truth = [], []
    for name in ("restaurant", "hotel"):
        dom = load_domain(name)
        nlg = TemplateNLG(dom)
        texts += [nlg.render(act) for act in example_acts(dom)]
        truth += [semantics(dom, act) for act in example_acts(dom)]
    predicted = predict_semantics(nlu, texts)
    wrong = [[t, p, g] for t, p, g in zip(texts, predicted, truth, strict=True) if p != g]
    return {**nlu_metrics(predicted, truth), "wrong": wrong}


def expert_success(nlu: TextNLU, episodes: int, seed: int) -> dict[str, dict[str, Any]]:
    """The handcrafted expert per split and channel (same seeds under both channels)."""
    out: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        out[split] = {}
        for channel in ("synthetic", "nlu"):
            env = _env(split, channel, nlu)
            expert = envs.make_expert("dialogue", env)
            result = run_episodes(env, lambda e, o, x=expert: x.predict(o)[0], episodes, seed)
            out[split][channel] = result
            print(f"expert {split:15s} {channel:9s} success {result['success']:.3f}", flush=True)
    return out


def nlu_cost(nlu: TextNLU, texts: list[str], steps: int) -> dict[str, float]:
    """Milliseconds per utterance (single and batched) and env steps/s per channel."""
    sample = texts[:500]
    start = time.perf_counter()
    for text in sample:
        nlu.understand([text])
    single = (time.perf_counter() - start) / len(sample) * 1e3
    start = time.perf_counter()
    for i in range(0, len(sample), 128):
        nlu.understand(sample[i : i + 128])
    batched = (time.perf_counter() - start) / len(sample) * 1e3
    rates = {}
    for channel in ("synthetic", "nlu"):
        env = _env("train", channel, nlu)
        actions = np.random.default_rng(0).integers(16, size=steps).tolist()
        env.reset(seed=0)
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        rates[channel] = steps / (time.perf_counter() - start)
    return {
        "ms_per_utterance_single": single,
        "ms_per_utterance_batched_128": batched,
        "env_steps_per_s_synthetic": rates["synthetic"],
        "env_steps_per_s_nlu": rates["nlu"],
    }


def ppo(
    nlu: TextNLU, timesteps: int, seeds: int, episodes: int, seed: int
) -> dict[str, dict[str, Any]]:
    """MaskablePPO (the dialogue recipe) trained through each channel, evaluated through both.

    Returns ``{train_channel: {"seconds": [...], split: {eval_channel: {success: [per seed]}}}}``.
    """
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    recipe = yaml.safe_load(RECIPE.read_text())["dialogue"]
    out: dict[str, dict[str, Any]] = {}
    for train_channel in ("synthetic", "nlu"):
        res: dict[str, Any] = {"seconds": []}
        for s in range(seeds):
            make = lambda c=train_channel: _env("train", c, nlu)  # noqa: E731
            vec = DummyVecEnv([make] * int(recipe["run"]["n_envs"]))
            model = MaskablePPO(
                "MlpPolicy",
                vec,
                seed=s,
                verbose=0,
                device="cpu",
                policy_kwargs=recipe["policy"],
                **recipe["algo"],
            )
            start = time.perf_counter()
            model.learn(timesteps)
            res["seconds"].append(round(time.perf_counter() - start, 1))

            def act(env: Any, obs: Any, model: Any = model) -> int:
                masks = env.unwrapped.action_masks()
                return int(model.predict(obs, deterministic=True, action_masks=masks)[0])

            for split in SPLITS:
                for eval_channel in ("synthetic", "nlu"):
                    r = run_episodes(_env(split, eval_channel, nlu), act, episodes, seed)
                    cell = res.setdefault(split, {}).setdefault(eval_channel, {"success": []})
                    cell["success"].append(r["success"])
                    print(
                        f"ppo seed {s} trained {train_channel:9s} {split:15s} via "
                        f"{eval_channel:9s} success {r['success']:.3f}",
                        flush=True,
                    )
        out[train_channel] = res
    return out


def _tables(nlu_report: dict, trip: dict, expert: dict, cost: dict, ppo_res: dict | None) -> str:
    parts = [
        "## NLU on fresh utterances of each split\n",
        format_text_table(nlu_report),
        f"\n\nDeterministic set (the canonical rendering of every act shape of the train "
        f"domains, {trip['utterances']} utterances): exact match {trip['exact_match']:.3f}, "
        f"frame F1 {trip['frame_f1']:.3f}.",
    ]
    rows = [
        [
            split,
            expert[split]["synthetic"]["success"],
            expert[split]["nlu"]["success"],
            expert[split]["nlu"]["success"] - expert[split]["synthetic"]["success"],
            expert[split]["synthetic"]["turns"],
            expert[split]["nlu"]["turns"],
        ]
        for split in SPLITS
    ]
    parts += [
        f"\n\n## Handcrafted expert: success through each channel "
        f"({expert['train']['nlu']['episodes']} episodes per cell, same seeds)\n",
        report.markdown_table(
            ["split", "synthetic", "NLU", "NLU - synthetic", "turns synth.", "turns NLU"], rows
        ),
        "\n\n## NLU cost (CPU, one torch thread)\n",
        report.markdown_table(
            [
                "ms/utterance (one at a time)",
                "ms/utterance (batch 128)",
                "env steps/s synthetic",
                "env steps/s NLU",
            ],
            [
                [
                    round(cost["ms_per_utterance_single"], 3),
                    round(cost["ms_per_utterance_batched_128"], 3),
                    cost["env_steps_per_s_synthetic"],
                    cost["env_steps_per_s_nlu"],
                ]
            ],
        ),
    ]
    if ppo_res is None:
        parts.append("\n\n## MaskablePPO\n\nNot run (pass --ppo-timesteps).")
    else:
        rows = []
        for train_channel, res in ppo_res.items():
            for split in SPLITS:
                cells = [res[split][c]["success"] for c in ("synthetic", "nlu")]
                rows.append(
                    [train_channel, split]
                    + [f"{np.mean(c):.3f} ({', '.join(f'{x:.2f}' for x in c)})" for c in cells]
                )
        parts += [
            "\n\n## MaskablePPO (recipe: agents/hyperparams/maskable-ppo.yaml): success, mean "
            "(per seed)\n",
            report.markdown_table(["trained via", "split", "eval synthetic", "eval NLU"], rows),
        ]
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a trained NLU (skip training)")
    parser.add_argument("--utterances", type=positive_int, default=20_000, help="train data")
    parser.add_argument("--epochs", type=positive_int, default=15, help="NLU training epochs")
    parser.add_argument("--eval-utterances", type=positive_int, default=2_000, help="per split")
    parser.add_argument("--episodes", type=positive_int, default=200, help="per split and cell")
    parser.add_argument("--ppo-timesteps", type=nonneg_int, default=0, help="0: skip PPO")
    parser.add_argument("--ppo-seeds", type=positive_int, default=1, help="PPO seeds")
    parser.add_argument("--ppo-episodes", type=positive_int, default=200, help="PPO eval episodes")
    parser.add_argument("--seed", type=nonneg_int, default=10_000, help="first episode seed")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    report.check_out(parser, args.out)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        train_info: dict[str, Any] = {}
        if model_dir is None:
            data_dir, model_dir = Path(tmp) / "data", Path(tmp) / "model"
            collect(CollectConfig(env="dialogue", frames=args.utterances), data_dir, progress=False)
            cfg = TextConfig(epochs=args.epochs, augment=True, device="cpu")
            train_info = train_text_model(data_dir, model_dir, cfg, progress=False)
            texts = load_text_dataset(data_dir).texts
        else:
            texts = []
        nlu = load_nlu(model_dir)
        nlu_report = evaluate_text(
            model_dir, utterances=args.eval_utterances, device="cpu", progress=False
        )
        print(format_text_table(nlu_report), flush=True)
        trip = round_trip(nlu)
        print(f"round trip exact match {trip['exact_match']:.3f}", flush=True)
        if not texts:
            texts = [f"I'm looking for a restaurant in the north {i}" for i in range(500)]
        cost = nlu_cost(nlu, texts, steps=2_000)
        print(cost, flush=True)
        expert = expert_success(nlu, args.episodes, args.seed)
        ppo_res = None
        if args.ppo_timesteps:
            ppo_res = ppo(nlu, args.ppo_timesteps, args.ppo_seeds, args.ppo_episodes, args.seed)
    data = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "nlu_training": {k: v for k, v in train_info.items() if k != "data"},
        "nlu_eval": nlu_report,
        "nlu_round_trip": trip,
        "nlu_cost": cost,
        "expert": expert,
        "ppo": ppo_res,
    }
    report.write("dialogue-nlu", data, _tables(nlu_report, trip, expert, cost, ppo_res), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
