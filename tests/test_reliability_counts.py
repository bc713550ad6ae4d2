"""The hostile-input case counts that benchmarks/RESULTS.md reports are the suite's real ones."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_reported_case_counts_match_a_fresh_collection():
    results = (REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    section = results.split("## Reliability: the hostile-input suite", 1)[1]
    reported = {path: int(count) for path, count in
                re.findall(r"^\| [^|]+ \| `(tests/[^`]+)` \| (\d+) \|", section, flags=re.M)}
    assert len(reported) == 3, reported
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *reported], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    counts = {path: sum(line.startswith(path + "::") for line in ids) for path in reported}
    assert counts == reported
    total = re.search(r"\*\*total\*\* \| \| \*\*(\d+)\*\*", section)
    assert total and int(total.group(1)) == sum(reported.values())


def test_readme_reports_the_same_counts():
    results = (REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    section = results.split("## Reliability: the hostile-input suite", 1)[1]
    counts = [int(count) for count in
              re.findall(r"^\| [^|]+ \| `tests/[^`]+` \| (\d+) \|", section, flags=re.M)]
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    study, data, layer = counts
    assert (f"{study + data + layer} hostile-input cases ({study} study files, {data} data "
            f"files, {layer} layer arguments)") in readme
