"""The README's curl examples and its "Using the API from…" snippets, run against the real server: each gives the answer the README shows."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
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


# --- "Using the API from…": every fenced block marked `run` (```python run, ```js run, ```sh run) ----------

LOCAL = "http://127.0.0.1:8000"
RUN_BLOCKS = re.findall(r"```(python|js|sh) run\n(.*?)```", README, flags=re.S)
SHOWN = re.compile(r"^(?:#|//) → (.*)$", flags=re.M)  # what a snippet prints, one comment line per printed line


def _snippets():
    """(language, the block, the set-up blocks before it): a block that shows no output is a set-up step of the next."""
    out, setup = [], []
    for lang, code in RUN_BLOCKS:
        if SHOWN.search(code):
            out.append((lang, code, setup))
            setup = []
        else:
            setup.append((lang, code))
    assert setup == [], "a `run` block at the end shows no output"
    return out


SNIPPETS = _snippets()
BIN = Path(sys.executable).parent


def test_the_readme_shows_every_client_users_bring():
    text = "\n".join(code for _, code in RUN_BLOCKS)
    needles = ["import requests", "import pandas", "dtype=str", "urlencode", "openapi-python-client generate",
               "from socialwork_generated_client", "await fetch(", "curl -s -D", "import duckdb"]
    assert [needle for needle in needles if needle not in text] == []
    assert sorted({lang for lang, _, _ in SNIPPETS}) == ["js", "python", "sh"]


def _run(lang: str, code: str, base: str, cwd: Path) -> subprocess.CompletedProcess:
    code = code.replace(LOCAL, base).replace(".venv/bin/", f"{BIN}/")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if lang == "python":
        (cwd / "snippet.py").write_text(code, encoding="utf-8")
        cmd = [sys.executable, "snippet.py"]
    elif lang == "js":
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed: the README's fetch snippet needs Node.js 18+ (Debian: apt-get install nodejs)")
        (cwd / "pages.mjs").write_text(code, encoding="utf-8")
        cmd = [node, "pages.mjs"]
    else:
        for tool in ("bash", "curl"):
            if shutil.which(tool) is None:
                pytest.fail(f"{tool} is not installed: the README's shell snippets need it")
        cmd = ["bash", "-e", "-o", "pipefail", "-c", code]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=cwd, env=env)


@pytest.mark.parametrize("lang, code, setup", SNIPPETS, ids=[f"{i}-{s[0]}" for i, s in enumerate(SNIPPETS)])
def test_readme_snippet_prints_what_it_shows(live_server, tmp_path, lang, code, setup):
    shutil.copy(ROOT / "openapi-python-client.yaml", tmp_path)  # the generator's settings, as in a checkout
    for step_lang, step in setup:
        done = _run(step_lang, step, live_server, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    done = _run(lang, code, live_server, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == SHOWN.findall(code), done.stderr
