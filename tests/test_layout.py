"""The layout is the architecture: api/'s packages import only in the direction dataset <- build and
dataset <- query <- web <- {v1, site, agents}, every import of api's own modules is at the top of its module (no lazy import
breaking a circle), and no two modules import each other, directly or round a loop. Read from the source (AST).
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each package may import of api (itself included). app.py assembles the web app and may import anything;
# nothing may import it.
ALLOWED = {
    "dataset": {"dataset"},
    "build": {"dataset", "build"},
    "query": {"dataset", "query"},
    "web": {"dataset", "query", "web"},
    "v1": {"dataset", "query", "web", "v1"},
    "site": {"dataset", "query", "web", "site"},
    "agents": {"dataset", "query", "web", "agents"},
    "app": {"dataset", "build", "query", "web", "v1", "site", "agents"},
    "api": set(),
}


def _module(path: Path, api: Path) -> str:
    parts = list(path.relative_to(api.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module, module: str, is_package: bool):
    """(line, imported api module, whether at module level) for every import of api in the tree."""
    package = module if is_package else module.rsplit(".", 1)[0]
    top = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            top.add(id(node))
        elif isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            top.update(id(n) for n in node.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name == "api" or name.startswith("api."):
                yield node.lineno, name, id(node) in top


def _package(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    return "app" if parts[1] == "app" else parts[1]


def violations(api: Path) -> list[str]:
    """Every import against the layout's rules, as 'file:line: message'."""
    out = []
    modules = {_module(p, api): p for p in sorted(api.rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        rel = path.relative_to(api.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        mine = _package(module)
        for line, target, at_top in _imports(tree, module, path.name == "__init__.py"):
            theirs = _package(target)
            if theirs == "app":
                out.append(f"{rel}:{line}: imports {target}: nothing imports the app factory")
            elif theirs not in ALLOWED[mine]:
                out.append(f"{rel}:{line}: imports {target}: api.{mine} may import only "
                           f"{', '.join('api.' + p for p in sorted(ALLOWED[mine])) or 'nothing of api'}")
            if not at_top:
                out.append(f"{rel}:{line}: imports {target} inside a function or class: imports go at the top")
            while target not in modules and "." in target:   # from .x import name: the module x
                target = target.rsplit(".", 1)[0]
            if target in modules and target != module:
                graph[module].add(target)
    # A package's __init__ importing its own modules is how it exports them, not a circle.
    edges = {m: {t for t in ts if not (modules[t].name == "__init__.py" and m.startswith(t + "."))} for m, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(m, trail):
        state[m] = 1
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                loop = trail[trail.index(t):] + [t]
                out.append(f"{modules[m].relative_to(api.parent).as_posix()}: import circle: {' -> '.join(loop)}")
            elif t not in state:
                visit(t, trail + [t])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    return out


def test_the_packages_import_only_in_the_layouts_direction():
    assert violations(ROOT / "api") == []


def _copy(tmp_path: Path) -> Path:
    api = tmp_path / "api"
    shutil.copytree(ROOT / "api", api, ignore=shutil.ignore_patterns("__pycache__", "templates", "static"))
    return api


@pytest.mark.parametrize("module, line, expected", [
    ("query/lookups.py", "from ..web.db import get_db",
     "api/query/lookups.py:{n}: imports api.web.db: api.query may import only api.dataset, api.query"),
    ("build/writer.py", "from ..query import meta",
     "api/build/writer.py:{n}: imports api.query: api.build may import only api.build, api.dataset"),
    ("dataset/vocabulary.py", "from api.web import errors",
     "api/dataset/vocabulary.py:{n}: imports api.web: api.dataset may import only api.dataset"),
    ("site/render.py", "from ..v1 import catalog",
     "api/site/render.py:{n}: imports api.v1: api.site may import only api.dataset, api.query, api.site, api.web"),
    ("web/extra.py", "from ..app import create_app",
     "api/web/extra.py:{n}: imports api.app: nothing imports the app factory"),
])
def test_a_reverse_import_is_caught(tmp_path, module, line, expected):
    api = _copy(tmp_path)
    path = api / module
    lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else ['"""A module nobody imports."""', "import os"]
    at = next(i for i, text in enumerate(lines) if text.startswith(("from ", "import ")) and "__future__" not in text)
    lines.insert(at, line)
    path.write_text("\n".join(lines), encoding="utf-8")
    assert violations(api) == [expected.format(n=at + 1)]


def test_a_lazy_import_is_caught(tmp_path):
    api = _copy(tmp_path)
    urls = api / "web" / "urls.py"
    urls.write_text(urls.read_text(encoding="utf-8") + "\n\ndef _late():\n    from .db import get_db\n    return get_db\n",
                    encoding="utf-8")
    n = urls.read_text(encoding="utf-8").split("\n").index("    from .db import get_db") + 1
    assert violations(api) == [f"api/web/urls.py:{n}: imports api.web.db inside a function or class: imports go at the top"]


def test_a_circle_is_caught(tmp_path):
    api = _copy(tmp_path)
    search = api / "dataset" / "search.py"
    search.write_text(search.read_text(encoding="utf-8") + "\nfrom .tables import LIST\n", encoding="utf-8")
    assert violations(api) == ["api/dataset/tables.py: import circle: api.dataset.search -> api.dataset.tables -> api.dataset.search"]
