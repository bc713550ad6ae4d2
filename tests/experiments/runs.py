"""Build RunRow values directly, for tests that need runs but not a store."""

from __future__ import annotations

import json

from rnnlab.experiments.store import RunRow


def make_run(
    arrangement: str,
    run_index: int,
    test_accuracy: float | None,
    *,
    status: str = "done",
    masked: bool = False,
    dataset: str = "imdb-short",
    run_id: int | None = None,
    error: str | None = None,
) -> RunRow:
    return RunRow(
        id=run_id if run_id is not None else hash((arrangement, run_index, masked, dataset)),
        study_id=1,
        arrangement=arrangement,
        run_index=run_index,
        seed=1000 + run_index,
        dataset=dataset,
        masked=masked,
        config_json=json.dumps({"arrangement": arrangement}),
        status=status,  # type: ignore[arg-type]
        attempts=1,
        worker="w",
        worker_host="host",
        worker_pid=1,
        started_at=None,
        finished_at=None,
        wall_seconds=None,
        checkpoint_path=None,
        error=error,
        test_accuracy=test_accuracy if status == "done" else None,
        test_loss=None,
        last_epoch=None,
    )
