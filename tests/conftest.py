"""Suite-wide settings."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test runs on one torch thread, restored afterwards.

    The suite runs many tiny models: intra-op threads only add synchronisation, and on a
    busy 2-core machine oversubscribed OpenMP threads spin (measured 20-400x slower). Tests
    that exercise ``--threads`` may change it (and start the CLI's thread governor); the next
    test starts from one again, with no governor left.
    """
    from rnnlab.cpu_threads import stop_governing

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    stop_governing()
    torch.set_num_threads(previous)
