"""The whole seed-002 study (12 arrangements × 1 run × E epochs) in one invocation, three ways.

    python benchmarks/bench_study.py --epochs 5 [--tf-python /tmp/tfvenv/bin/python] \\
        [--json study.json] [--results benchmarks/RESULTS.md]

Every side trains on the same arrays (``imdb-short`` encoded as seed 002 does: vocabulary
5000, maxlen 100, pre-padding), batch 32, Adam 1e-3, one side after another:

* ``rnnlab compare`` on a study file of the 12 arrangements, unmasked, with its per-epoch
  valid and test scoring, at its defaults (one 1-thread worker per core);
* a plain PyTorch script (``plain_torch_seed_models.py``: ``torch.nn.LSTM``/``GRU``, 2
  threads, one arrangement after another) — what a user writes by hand;
* the seed's own Keras code on TensorFlow (``keras_seed_models.py``) when ``--tf-python``
  names a venv with tensorflow.

The FLOP floor is the recurrent matrix products of what ``rnnlab compare`` computes (training
×3 for forward + backward, plus its evaluations), at the 2-thread sgemm rate measured in this
process; "× floor" is a side's wall time over that.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_study_vs_keras import prepare_arrays, write_arrays  # noqa: E402
from keras_seed_models import (  # noqa: E402
    EMBEDDING_SIZE,
    HIDDEN_SIZE,
    SEED_ARRANGEMENTS,
)

SECTION_TITLE = "## 6. The whole study in one run: rnnlab vs a plain PyTorch script (issue 10)"


def arrangement_flops_per_token(name: str) -> float:
    """Forward matrix-multiply FLOPs per token of one arrangement's recurrent layers."""
    stack, _, cell = name.split("_")
    gates = 4 if cell.endswith("LSTM") else 3
    per_direction = 2.0 * gates * HIDDEN_SIZE
    if cell.startswith("bi"):  # one bidirectional layer
        return 2 * per_direction * (EMBEDDING_SIZE + HIDDEN_SIZE)
    flops = per_direction * (EMBEDDING_SIZE + HIDDEN_SIZE)
    if stack == "MS":  # a second layer reading the first one's states
        flops += per_direction * (HIDDEN_SIZE + HIDDEN_SIZE)
    return flops


def study_flops(prepared, epochs: int, arrangements=SEED_ARRANGEMENTS) -> float:
    """Training (×3) and per-epoch valid + test scoring, every token of the padded arrays."""
    width = prepared.train.ids.shape[1]
    trained = len(prepared.train) * width * epochs
    scored = (len(prepared.valid) + len(prepared.test)) * width * epochs
    return sum(arrangement_flops_per_token(name) * (3 * trained + scored)
               for name in arrangements)


def full_profile_flops(prepared) -> float:
    """``rnnlab compare --profile full``: 12 arrangements × 5 runs × 5 epochs, and each run's
    masked twin, which computes the real tokens only (length-bucketed batches)."""
    real_share = float((prepared.train.ids != 0).mean())  # pre-padded with id 0
    return 5 * study_flops(prepared, 5) * (1 + real_share)


def _timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command and every process it waited
    for): on a busy machine the CPU seconds still compare the work done."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("w") as stream:
        subprocess.run(command, env=env, stdout=stream, stderr=subprocess.STDOUT, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_rnnlab(workdir: Path, epochs: int, env: dict[str, str]) -> tuple[float, float]:
    study = workdir / "study.toml"
    names = ", ".join(f'"{name}"' for name in SEED_ARRANGEMENTS)
    study.write_text(f'name = "bench-study"\narrangements = [{names}]\nruns = 1\n'
                     f"epochs = {epochs}\n")
    rnnlab = Path(sys.executable).with_name("rnnlab")
    return _timed([str(rnnlab), "compare", "--study", str(study), "--out",
                   str(workdir / "study"), "--no-progress"], env, workdir / "rnnlab.log")


def run_plain(npz: Path, workdir: Path, epochs: int, env: dict[str, str]
              ) -> tuple[float, float]:
    return _timed([sys.executable, str(HERE / "plain_torch_seed_models.py"), "--data", str(npz),
                   "--epochs", str(epochs), "--threads", "2"], env, workdir / "plain.log")


def run_keras(tf_python: str, npz: Path, workdir: Path, epochs: int,
              env: dict[str, str]) -> tuple[float, float]:
    keras_env = {**env, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    wall = cpu = 0.0
    for name in SEED_ARRANGEMENTS:
        one = _timed([tf_python, str(HERE / "keras_seed_models.py"), "--data", str(npz),
                      "--arrangement", name, "--epochs", str(epochs), "--threads", "2"],
                     keras_env, workdir / f"keras-{name}.log")
        wall, cpu = wall + one[0], cpu + one[1]
    return wall, cpu


def render(result: dict) -> str:
    floor, floor_cpu = result["floor_seconds"], result["floor_cpu_seconds"]
    ours_wall, ours_cpu = result["sides"]["rnnlab compare"]
    lines = [SECTION_TITLE, "",
             f"`{result['command']}` — {result['date']}, {result['cpu']}, torch "
             f"{result['torch']}, load average before the run {result['load']}; sgemm 1024³ "
             f"float32: {result['sgemm_1']:.0f} GFLOP/s on 1 thread, {result['sgemm_2']:.0f} "
             f"on 2, measured in this run. The study's recurrent matrix products: "
             f"{result['flops'] / 1e12:.1f} TFLOP → FLOP floor {floor:.0f} s of wall time at "
             f"the 2-thread rate, {floor_cpu:.0f} CPU seconds at the 1-thread rate. The full "
             f"profile (120 runs, the masked half on real tokens): "
             f"{result['full_profile_flops'] / 1e12:.1f} TFLOP → floor "
             f"{result['full_profile_flops'] / (result['sgemm_2'] * 1e9) / 60:.1f} min.", "",
             "| side | wall s | × rnnlab | × floor | CPU s | × rnnlab | × floor (CPU) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for side, (wall, cpu) in result["sides"].items():
        lines.append(f"| {side} | {wall:.0f} | {wall / ours_wall:.2f} | {wall / floor:.2f} | "
                     f"{cpu:.0f} | {cpu / ours_cpu:.2f} | {cpu / floor_cpu:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--tf-python", default=None,
                        help="python of a venv with tensorflow-cpu (skip Keras if absent)")
    parser.add_argument("--json", default=None, help="write the measurements here")
    parser.add_argument("--results", default=None, help="print the section for RESULTS.md "
                        "and append it to this file")
    args = parser.parse_args(argv)

    import platform

    import torch

    from rnnlab.bench import sgemm_gflops

    prepared = prepare_arrays()
    torch.set_num_threads(1)
    sgemm_1 = sgemm_gflops()
    torch.set_num_threads(2)
    sgemm_2 = sgemm_gflops()
    flops = study_flops(prepared, args.epochs)
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    sides: dict[str, tuple[float, float]] = {}
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-study-") as tmp:
        workdir = Path(tmp)
        npz = write_arrays(prepared, workdir, None)
        sides["rnnlab compare"] = run_rnnlab(workdir, args.epochs, env)
        sides["plain PyTorch script"] = run_plain(npz, workdir, args.epochs, env)
        if args.tf_python and Path(args.tf_python).exists():
            sides["seed's Keras code (TensorFlow)"] = run_keras(args.tf_python, npz, workdir,
                                                                 args.epochs, env)
    result = {"command": "python benchmarks/bench_study.py " + " ".join(argv or sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
              "sgemm_1": sgemm_1, "sgemm_2": sgemm_2, "flops": flops,
              "full_profile_flops": full_profile_flops(prepared),
              "floor_seconds": flops / (sgemm_2 * 1e9),
              "floor_cpu_seconds": flops / (sgemm_1 * 1e9), "load": load, "sides": sides}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    section = render(result)
    print(section)
    if args.results:
        with open(args.results, "a", encoding="utf-8") as stream:
            stream.write("\n" + section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
