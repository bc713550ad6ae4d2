"""Each seed-002 arrangement's CPU time against its own FLOP floor, in one process.

    RNNLAB_DATA_DIR=../shared/data python benchmarks/bench_arrangement_floor.py --epochs 1 \\
        [--arrangements SS_RSF_GRU,MS_RST_LSTM]

``bench_study.py`` times the whole study; this says which arrangement is how far from its
floor. Every arrangement trains as a one-run study through the runner's ``train_pending_runs``
(per-epoch valid and test scoring, checkpoints and the store included; the data prepared once,
as a study's worker does; one thread), timed by the process's CPU clock, so the
ratio holds on a machine where other processes share the cores; the floor is its recurrent
matrix products (training ×3, plus the scoring) at the 1-thread sgemm rate measured by the
same CPU clock in the same process. What the ratio leaves out of the floor: the embedding,
the dense layers, the optimiser, the elementwise gate work, checkpoints and the store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_study import arrangement_flops_per_token  # noqa: E402
from keras_seed_models import SEED_ARRANGEMENTS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--arrangements", default=",".join(SEED_ARRANGEMENTS))
    args = parser.parse_args(argv)

    import torch

    from rnnlab.bench import sgemm_gflops
    from rnnlab.experiments.run_training import train_pending_runs
    from rnnlab.experiments.runner import prepare_data
    from rnnlab.experiments.store import ResultStore
    from rnnlab.experiments.study import StudyConfig, expand_runs

    torch.set_num_threads(1)
    names = [name.strip() for name in args.arrangements.split(",") if name.strip()]
    prepared = prepare_data(StudyConfig(name="floor", arrangements=tuple(names), runs=1,
                                        epochs=args.epochs))  # once, as a study's worker does
    width = prepared.train.ids.shape[1]
    tokens = (3 * len(prepared.train) + len(prepared.valid) + len(prepared.test)) * width
    rate = sgemm_gflops(clock="cpu")
    print(f"sgemm 1024³ float32, 1 thread, by CPU clock: {rate:.1f} GFLOP/s; "
          f"{args.epochs} epoch(s) per arrangement, one thread\n")
    print("| arrangement | CPU s | floor s | × floor |")
    print("|---|---:|---:|---:|")
    total_cpu = total_floor = 0.0
    for name in names:
        study = StudyConfig(name="floor", arrangements=(name,), runs=1, epochs=args.epochs)
        with tempfile.TemporaryDirectory(prefix="floor-") as tmp, \
                ResultStore(Path(tmp) / "results.sqlite") as store:
            study_id = store.ensure_study(study.name, study.to_dict())
            store.add_runs(study_id, expand_runs(study, vocab_size=len(prepared.vocab),
                                                 num_classes=prepared.num_classes))
            started = time.process_time()  # training, scoring, checkpoints and the store
            train_pending_runs(store, study_id, prepared, Path(tmp), worker="floor")
            cpu = time.process_time() - started
        floor = arrangement_flops_per_token(name) * tokens * args.epochs / (rate * 1e9)
        total_cpu, total_floor = total_cpu + cpu, total_floor + floor
        print(f"| {name} | {cpu:.1f} | {floor:.2f} | {cpu / floor:.2f} |", flush=True)
    print(f"| all | {total_cpu:.1f} | {total_floor:.1f} | {total_cpu / total_floor:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
