"""The bundled toy studies: a quick and a default profile of each task.

    name                 cells × lengths × runs    steps   meant for
    toys-adding-quick    3 × T 50 × 3              300     CI: seconds
    toys-copy-quick      3 × T 10 × 3              300     CI: seconds
    toys-quotes-quick    LSTM × 1                  200     CI: seconds (needs Brown)
    toys-adding          3 × T 50,100,200,400 × 3  1000    ≤ 15 min on 2 cores (4.9 CPU-min)
    toys-copy            3 × T 100,200 × 3         1000    ≤ 15 min on 2 cores (3.4 CPU-min)
    toys-quotes          LSTM × 3                  3000    ≤ 15 min on 2 cores (5.0 CPU-min;
                                                           needs Brown)

The default profiles fit in 15 minutes on 2 cores with room: each took under 6 minutes of
CPU on one core of an AMD EPYC (benchmarks/RESULTS.md, "How long the bundled profiles
take"); the long lags need more steps than that (at
T = 200 the GRU solves the adding problem by step 1,000, one LSTM seed of three by 2,700;
benchmarks/RESULTS.md has the runs and their commands, e.g.
``rnnlab toys adding --T 200 --steps 4000``). Sizes are small on purpose (32 units) so a
CPU trains them; Adam at 3e-3 with the clipping of ToyTrainConfig.
"""

from __future__ import annotations

from rnnlab.experiments.toy_study import ToyStudyConfig

__all__ = ["TOY_PROFILES", "bundled_toy_study", "toy_profile"]

SEED003_CELLS = ("rnn_tanh", "gru", "lstm")
_SMALL = {"hidden_size": 32}
_QUICK_TRAINING = {"steps": 300, "eval_every": 100, "batch_size": 32, "lr": 3e-3,
                   "eval_batch_size": 200}
_TRAINING = {"steps": 1000, "eval_every": 100, "batch_size": 32, "lr": 3e-3}

TOY_PROFILES: dict[str, ToyStudyConfig] = {
    study.name: study
    for study in (
        ToyStudyConfig(name="toys-adding-quick", task="adding", cells=SEED003_CELLS,
                       lengths=(50,), model={"hidden_size": 16}, training=_QUICK_TRAINING,
                       task_options={"eval_examples": 200}),
        ToyStudyConfig(name="toys-copy-quick", task="copy", cells=SEED003_CELLS,
                       lengths=(10,), model={"hidden_size": 16}, training=_QUICK_TRAINING,
                       task_options={"eval_examples": 200}),
        ToyStudyConfig(name="toys-quotes-quick", task="quotes", cells=("lstm",), runs=1,
                       model={"hidden_size": 64},
                       training={**_QUICK_TRAINING, "steps": 200},
                       task_options={"window": 50, "max_train_chars": 200_000,
                                     "eval_chars": 5000}),
        ToyStudyConfig(name="toys-adding", task="adding", cells=SEED003_CELLS,
                       lengths=(50, 100, 200, 400), model=_SMALL, training=_TRAINING,
                       task_options={"eval_examples": 500}),
        ToyStudyConfig(name="toys-copy", task="copy", cells=SEED003_CELLS, lengths=(100, 200),
                       model=_SMALL, training=_TRAINING, task_options={"eval_examples": 500}),
        ToyStudyConfig(name="toys-quotes", task="quotes", cells=("lstm",),
                       model={"hidden_size": 128},
                       training={"steps": 3000, "eval_every": 250, "batch_size": 32, "lr": 3e-3},
                       task_options={"window": 100, "eval_chars": 50_000}),
    )
}


def toy_profile(task: str, profile: str) -> ToyStudyConfig:
    """The bundled study of ``task`` ("adding", "copy", "quotes") at ``profile``
    ("quick" or "default")."""
    if profile not in ("quick", "default"):
        raise ValueError(f"profile must be 'quick' or 'default', got {profile!r}")
    name = f"toys-{task}" + ("-quick" if profile == "quick" else "")
    if name not in TOY_PROFILES:
        tasks = sorted({study.task for study in TOY_PROFILES.values()})
        raise ValueError(f"task must be one of {tasks}, got {task!r}")
    return TOY_PROFILES[name]


def bundled_toy_study(name: str) -> ToyStudyConfig | None:
    """The bundled study called ``name`` (e.g. "toys-adding"), or None."""
    return TOY_PROFILES.get(name)
