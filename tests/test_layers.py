"""The layer rule of DESIGN.md, checked on the source: a module imports only from the layers
above it (or its own package).

Order, top to bottom: core < arrays < channels < metrics < solvers = tracking < learn < rl <
systems < experiments = cli. Every ``import`` of the package is checked, wherever it stands
(module level, inside functions, under ``if TYPE_CHECKING:``), and so are
``importlib.import_module("isaclearn...")`` calls with a literal name. The top-level
``isaclearn/__init__.py`` may import only ``core`` (and a version module). The one allowance
between packages of the same level: ``cli`` runs the experiments, so ``cli`` may import
``experiments`` (never the reverse).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "isaclearn"

LAYERS: dict[str, int] = {
    "core": 0,
    "arrays": 1,
    "channels": 2,
    "metrics": 3,
    "solvers": 4,
    "tracking": 4,
    "learn": 5,
    "rl": 6,
    "systems": 7,
    "experiments": 8,
    "cli": 8,
}
SAME_LEVEL_ALLOWED = {("cli", "experiments")}
TOP = "<top>"  # the package itself: isaclearn/__init__.py, ``import isaclearn``, __version__
VERSION_MODULES = {"_version", "version"}


def package_of(path: Path, root: Path) -> str:
    """First component under ``root`` (``metrics`` for ``metrics/uplink.py``, ``cli`` for
    ``cli.py``), or :data:`TOP` for the package's own ``__init__.py``."""
    rel = path.relative_to(root)
    if rel.parts == ("__init__.py",):
        return TOP
    return rel.parts[0].removesuffix(".py")


def _module_parts(path: Path, root: Path) -> list[str]:
    """Dotted name of the module's package, as parts under ``isaclearn`` (for relative
    imports)."""
    rel = path.relative_to(root)
    return list(rel.parts[:-1])


def imported_targets(path: Path, root: Path) -> list[tuple[int, str]]:
    """``(line, dotted name below isaclearn)`` for every import of the package in ``path``;
    ``""`` is the package itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []

    def add(line: int, dotted: str) -> None:
        if dotted == "isaclearn":
            out.append((line, ""))
        elif dotted.startswith("isaclearn."):
            out.append((line, dotted.removeprefix("isaclearn.")))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _module_parts(path, root)
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                module = ".".join(["isaclearn", *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "isaclearn":
                # ``from isaclearn import metrics`` names a subpackage; anything else
                # (``__version__``) is the package itself.
                for alias in node.names:
                    add(node.lineno, f"isaclearn.{alias.name}" if alias.name in LAYERS
                        or alias.name in VERSION_MODULES else "isaclearn")
            else:
                add(node.lineno, module)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if (name == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                add(node.lineno, node.args[0].value)
    return out


def violations(root: Path) -> list[str]:
    """``file:line: ...`` for every import that breaks the layer rule under ``root``."""
    bad: list[str] = []
    for path in sorted(root.rglob("*.py")):
        src_pkg = package_of(path, root)
        where = path.relative_to(root.parent)
        if src_pkg != TOP and src_pkg not in LAYERS:
            bad.append(f"{where}:1: package {src_pkg!r} has no layer (add it to LAYERS)")
            continue
        for line, target in imported_targets(path, root):
            tgt_pkg = target.split(".")[0] if target else TOP
            if src_pkg == TOP:
                if tgt_pkg not in ("core", TOP, *VERSION_MODULES):
                    bad.append(f"{where}:{line}: the top-level package imports "
                               f"isaclearn.{target} (only core or a version module)")
                continue
            if tgt_pkg in (TOP, *VERSION_MODULES) or tgt_pkg == src_pkg:
                continue
            if tgt_pkg not in LAYERS:
                bad.append(f"{where}:{line}: import of isaclearn.{target}: "
                           f"{tgt_pkg!r} has no layer")
                continue
            if LAYERS[tgt_pkg] < LAYERS[src_pkg] or (src_pkg, tgt_pkg) in SAME_LEVEL_ALLOWED:
                continue
            bad.append(f"{where}:{line}: {src_pkg} (layer {LAYERS[src_pkg]}) imports "
                       f"isaclearn.{target} ({tgt_pkg}, layer {LAYERS[tgt_pkg]})")
    return bad


def test_every_import_goes_up_the_layers() -> None:
    bad = violations(SRC)
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_every_package_has_a_layer() -> None:
    pkgs = {package_of(p, SRC) for p in SRC.rglob("*.py")} - {TOP}
    assert pkgs <= set(LAYERS), sorted(pkgs - set(LAYERS))


# --------------------------------------------------------------------------------------------
# the checker itself, on a synthetic package
# --------------------------------------------------------------------------------------------


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    root = tmp_path / "isaclearn"
    _write(root, "__init__.py", "from isaclearn.core import x\n__version__ = '0'\n")
    for pkg in LAYERS:
        if pkg != "cli":
            _write(root, f"{pkg}/__init__.py", "")
    _write(root, "cli.py", "from isaclearn.experiments import run\nfrom isaclearn import core\n")
    _write(root, "metrics/ok.py",
           "import isaclearn.core.checks\nfrom isaclearn.channels import a\n"
           "from . import sibling\nfrom .sibling import b\nfrom .. import core\n"
           "from isaclearn import __version__\n")
    return root


def test_checker_accepts_a_clean_tree(fake: Path) -> None:
    assert violations(fake) == []


@pytest.mark.parametrize(
    ("rel", "text", "line", "target"),
    [
        ("metrics/bad.py", "import torch\nfrom isaclearn.solvers import x\n", 2, "solvers"),
        ("metrics/bad.py", "def f():\n    import isaclearn.learn.nets\n", 2, "learn.nets"),
        ("metrics/bad.py",
         "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
         "    from isaclearn.systems.base import S\n", 3, "systems.base"),
        ("systems/sub/bad.py", "from isaclearn.experiments.bench import b\n", 1,
         "experiments.bench"),
        ("metrics/bad.py", "from ..solvers import wf\n", 1, "solvers"),
        ("solvers/bad.py", "from isaclearn import tracking\n", 1, "tracking"),
        ("experiments/bad.py", "from isaclearn import cli\n", 1, "cli"),
        ("metrics/bad.py", "import importlib\nm = importlib.import_module('isaclearn.rl.env')\n",
         2, "rl.env"),
        ("__init__.py", "from isaclearn.metrics import sinr\n", 1, "metrics"),
    ],
)
def test_checker_finds_a_downward_import(fake: Path, rel: str, text: str, line: int,
                                         target: str) -> None:
    _write(fake, rel, text)
    bad = violations(fake)
    assert len(bad) == 1, bad
    assert bad[0].startswith(f"isaclearn/{rel}:{line}: "), bad
    assert f"isaclearn.{target}" in bad[0], bad


def test_checker_flags_an_unknown_package(fake: Path) -> None:
    _write(fake, "plugins/x.py", "")
    assert any("'plugins' has no layer" in b for b in violations(fake))
