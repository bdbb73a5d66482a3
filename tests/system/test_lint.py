"""openapi.yaml is clean under a standard OpenAPI linter: Spectral (pinned in package.json, installed by
`make install` into node_modules) with .spectral.yaml, which extends spectral:oas and says why any rule is off."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPECTRAL = ROOT / "node_modules" / ".bin" / "spectral"
SEVERITIES = {0: "error", 1: "warning", 2: "info", 3: "hint"}


def lint() -> list[dict]:
    done = subprocess.run([str(SPECTRAL), "lint", "openapi.yaml", "--ruleset", ".spectral.yaml", "--format", "json",
                           "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr  # 1: something was reported; anything else: spectral failed
    return json.loads(done.stdout or "[]")


def test_spectral_reports_no_errors_and_no_warnings():
    assert SPECTRAL.exists(), "make install puts Spectral into node_modules (npm ci)"
    found = [f"{SEVERITIES[r['severity']]} {r['code']} at {'.'.join(map(str, r['path']))}: {r['message']}"
             for r in lint() if r["severity"] <= 1]
    assert found == []


def test_the_ruleset_extends_spectrals_own_and_turns_off_only_what_it_explains():
    ruleset = yaml.safe_load((ROOT / ".spectral.yaml").read_text(encoding="utf-8"))
    assert ruleset["extends"] == ["spectral:oas"]
    assert ruleset["rules"] == {"info-contact": "off", "path-keys-no-trailing-slash": "off"}
    text = (ROOT / ".spectral.yaml").read_text(encoding="utf-8")
    for rule in ruleset["rules"]:
        before = text[:text.index(f"  {rule}:")].rstrip().splitlines()[-1]
        assert before.lstrip().startswith("#"), f"{rule} is off without a comment saying why"


def test_no_operation_needs_credentials():
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert spec["security"] == []
    assert [op for item in spec["paths"].values() for op in item.values() if "security" in op] == []
