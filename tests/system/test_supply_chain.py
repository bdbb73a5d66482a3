"""What installing the project runs: no package's install script (npm's telemetry postinstall of @scarf/scarf)."""
from __future__ import annotations

import json
import shlex
import subprocess

from harness.servers import ROOT


def test_npm_ci_runs_no_install_script_and_no_telemetry():
    dry = subprocess.run(["make", "-n", "-B", "node_modules/.installed"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    [line] = [line for line in dry.stdout.splitlines() if "npm ci" in line]
    words = shlex.split(line)
    assert (words[0], "--ignore-scripts" in words) == ("SCARF_ANALYTICS=false", True), line


def test_the_only_install_script_in_the_lock_is_the_telemetry_one():
    """--ignore-scripts is safe while no package needs its script to work: a new one with a script fails here, to be
    looked at (allowed, or ignored as this one is)."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert [name for name, pkg in lock["packages"].items() if pkg.get("hasInstallScript")] == ["node_modules/@scarf/scarf"]
