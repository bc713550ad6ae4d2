"""rnnlab's fused CPU kernels (C++), built on first use and cached; PyTorch paths otherwise.

The kernels (``csrc/recurrent.cpp``) run GRU and the LSTM family (standard, peephole, CIFG)
over time with hand-written backpropagation; :mod:`rnnlab.core.kernels.ops` wraps them as
autograd functions. They are compiled with ``torch.utils.cpp_extension`` the first time a
process needs them (``make install`` does it once ahead) into a cache directory keyed by the
source, the torch and Python versions and this CPU's instruction set (built with
``-march=native``, so a cache is never shared by machines with different CPUs).

Where no compiler is present the layers run PyTorch's own paths (``torch.gru``, the time loop)
and say so once with a :class:`KernelFallbackWarning`. ``RNNLAB_KERNELS=off`` chooses those
paths on purpose (no warning); ``RNNLAB_KERNEL_CACHE`` moves the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

__all__ = ["KernelFallbackWarning", "available", "cache_directory", "load", "status"]

SOURCE = Path(__file__).with_name("csrc") / "recurrent.cpp"
HEADERS = (Path(__file__).with_name("csrc") / "rnnlab_math.h",)
# -fno-trapping-math: without it GCC will not if-convert the float comparisons of tanh's clamp
# (std::min/max), so no loop that calls tanh or sigmoid vectorises — every forward row loop
# ran scalar. Results are the same IEEE operations; rnnlab reads no floating-point exception
# flags.
CFLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd")
_lock = threading.Lock()
_state: dict[str, object] = {"loaded": None, "reason": ""}


class KernelFallbackWarning(UserWarning):
    """The fused kernels could not be built or loaded; the slower PyTorch paths run."""


def _cpu_signature() -> str:
    """The instruction-set flags of this CPU (``-march=native`` depends on them)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _tag() -> str:
    digest = hashlib.sha256()
    for part in (SOURCE.read_bytes(), *(header.read_bytes() for header in HEADERS),
                 " ".join(CFLAGS).encode(), torch.__version__.encode(), sys.version.encode(),
                 _cpu_signature().encode()):
        digest.update(part)
    return digest.hexdigest()[:16]


def cache_directory() -> Path:
    """Where the built library lives: ``$RNNLAB_KERNEL_CACHE`` or ``~/.cache/rnnlab/kernels``."""
    root = os.environ.get("RNNLAB_KERNEL_CACHE") or Path.home() / ".cache" / "rnnlab" / "kernels"
    return Path(root) / _tag()


def _build() -> None:
    """Load the cached library, building it first if it is not there.

    A built library is loaded directly (no ninja run, no lock). A build holds an exclusive
    ``flock`` on the cache directory, which the kernel releases if the builder dies; torch's
    own build lock file left by a killed build is then stale, and is removed before building
    (otherwise every later process would wait on it for ever).
    """
    from torch.utils import cpp_extension

    directory = cache_directory()
    directory.mkdir(parents=True, exist_ok=True)
    name = f"rnnlab_kernels_{_tag()}"
    library = directory / f"{name}.so"
    if library.is_file():
        torch.ops.load_library(str(library))
        return
    with _exclusive(directory / "build.flock"):
        if library.is_file():  # another process built it while this one waited
            torch.ops.load_library(str(library))
            return
        (directory / "lock").unlink(missing_ok=True)
        cpp_extension.load(
            name=name,
            sources=[str(SOURCE)],
            extra_cflags=list(CFLAGS),
            build_directory=str(directory),
            is_python_module=False,
            verbose=False,
        )


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` for the block (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: torch's own build lock is all there is
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_and_register(attempts: int = 3) -> None:
    """Build or load the library; a second process that waited on another's build (torch's
    lock in the cache directory) can look for the library a moment before it is there, so a
    failed load is tried again before it counts."""
    for attempt in range(attempts):
        try:
            _build()
            torch.ops.rnnlab.gru_forward  # noqa: B018  (raises if the library did not register)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(1.0 + attempt)


def load() -> bool:
    """Build (first time only) and load the kernels into this process; False if impossible.

    ``RNNLAB_KERNELS=off`` disables them without a warning; any other failure (no compiler,
    a build error) warns once with the reason and returns False.
    """
    if _state["loaded"] is not None:
        return bool(_state["loaded"])
    with _lock:
        if _state["loaded"] is not None:
            return bool(_state["loaded"])
        if os.environ.get("RNNLAB_KERNELS", "").lower() in ("off", "0", "false", "no"):
            _state.update(loaded=False, reason="disabled by RNNLAB_KERNELS")
            return False
        try:
            _build_and_register()
        except Exception as error:  # a missing compiler, a build or load error: fall back
            _state.update(loaded=False, reason=f"{type(error).__name__}: {error}")
            warnings.warn(
                "rnnlab: the fused CPU kernels could not be built or loaded "
                f"({str(_state['reason'])[:300]}); GRU and the LSTM variants run PyTorch's "
                "slower paths instead. Install g++ and ninja, or set RNNLAB_KERNELS=off to "
                "choose those paths without this warning.",
                KernelFallbackWarning, stacklevel=3)
            return False
        _state.update(loaded=True, reason="")
        return True


def available() -> bool:
    """Whether the fused kernels run in this process (builds them on first call)."""
    return load()


def status() -> str:
    """One line for ``rnnlab bench`` and bug reports: loaded, or why not."""
    if load():
        return f"fused C++ kernels loaded ({cache_directory()})"
    return f"fused C++ kernels unavailable: {_state['reason']}"
