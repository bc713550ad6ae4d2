"""The store, statistics and report must not import torch (STYLE.md: the result store
does not import torch; reports read from the store only)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import rnnlab.experiments

EXPERIMENTS = Path(rnnlab.experiments.__file__).parent


def test_store_stats_and_report_modules_do_not_import_torch():
    # Stub the parent packages so their __init__ (which may re-export torch models) does
    # not run: this checks what our modules themselves import.
    code = textwrap.dedent(
        f"""
        import sys, types
        for name, path in [("rnnlab", {str(EXPERIMENTS.parent)!r}),
                           ("rnnlab.experiments", {str(EXPERIMENTS)!r})]:
            package = types.ModuleType(name)
            package.__path__ = [path]
            sys.modules[name] = package
        import rnnlab.experiments.store, rnnlab.experiments.stats
        import rnnlab.experiments.report, rnnlab.experiments.arrangement_names
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
