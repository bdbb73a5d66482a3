"""The README's curl examples, run against the real server: each gives the answer the README shows."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
EXAMPLES = [(line, block) for block in BLOCKS for line in block.splitlines() if line.startswith("curl ")]


def test_the_readme_has_the_examples_users_ask_for():
    text = " ".join(line for line, _ in EXAMPLES)
    needles = ("region=江苏 -d year=2025", "kind=hotline", "metrics --data-urlencode region=北京", "format=csv", "q=驿站")
    assert [needle for needle in needles if needle not in text] == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("line, block", EXAMPLES, ids=[e[0][8:70] for e in EXAMPLES])
def test_readme_example(live_server, tmp_path, line, block):
    args = [a.replace("http://127.0.0.1:8000", live_server) for a in shlex.split(line)]
    args = [a for a in args if a not in ("-o",) and not a.endswith(".csv")] if "-o" in args else args
    out = subprocess.run(args + ["-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    body, _, status = out.stdout.rpartition("\n")
    comment = block.split(line, 1)[1].split("\ncurl ", 1)[0]
    if "400" in comment.split("\n")[1]:
        kind = re.search(r"\b[a-z]+-[a-z]+\b", comment.split("\n")[1])[0]  # "unknown-parameter", "ambiguous-region"
        problem = json.loads(body)
        assert (status, problem["status"], problem["type"]) == ("400", 400, "/api/v1/problems/" + kind)
        codes = re.findall(r"\b\d{6}\b", comment)
        assert [code for code in codes if code not in body] == [], body
        return
    assert status == "200", body[:300]
    if "format=csv" in line:
        header, rows = re.search(r"# (\S+),\.\.\.  \(header \+ (\d+) rows\)", comment).groups()
        lines = body.splitlines()
        assert lines[0][:len(header)] == header
        assert len(lines) == 1 + int(rows)
        return
    data = json.loads(body)
    total = re.search(r"meta\.total: (\d+)", comment)
    if total:
        assert data["meta"]["total"] == int(total.group(1))
    # A part of the body shown whole, such as `data.province: [{...}]`.
    for path, shown in re.findall(r"\b(data\.\w+): (\[\{.*?\}\])", comment):
        assert data["data"][path.split(".", 1)[1]] == json.loads(shown), path
    idents = re.findall(r"\b[a-z0-9]+(?:-[a-z0-9]+){2,}\b", comment)
    assert [ident for ident in idents if ident not in body] == []
    # Fields shown with their value, such as `"value": 25802000` or `"unit": "requests"` (elided ones, "...", are not).
    fields = [f'"{key}": {value}' for key, value in re.findall(r'"(\w+)": ("[^"]*"|-?\d+(?:\.\d+)?)', comment)
              if "..." not in value]
    assert [field for field in fields if field not in body] == []
