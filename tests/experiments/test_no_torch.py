"""The store, statistics and report must not import torch (STYLE.md: the result store
does not import torch; reports read from the store only)."""

import subprocess
import sys
import textwrap


def test_store_stats_and_report_modules_do_not_import_torch():
    # A fresh interpreter, real packages: their __init__ files load lazily, so reading
    # results must not pull torch in through any of them.
    code = textwrap.dedent(
        """
        import sys
        import rnnlab.experiments.store, rnnlab.experiments.stats
        import rnnlab.experiments.report, rnnlab.experiments.arrangement_names
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
