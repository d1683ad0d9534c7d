"""The architecture, checked by walking every module's imports (STYLE.md "who may import whom")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sttdesk"

#: Third-party libraries that may be imported only inside these parts of sttdesk.
CONFINED = {
    "PySide6": ("gui",),
    "sqlalchemy": ("store",),
    "zmq": ("cluster", "agent", "security"),
    "zeroconf": ("cluster", "agent"),
    "pywhispercpp": ("engine",),
}

#: sttdesk packages each layer must not import.
FORBIDDEN = {
    "domain": ("audio", "store", "protocol", "cluster", "service", "engine", "agent", "api", "cli", "gui", "app",
               "settings", "paths"),
    "audio": ("store", "cluster", "service", "engine", "agent", "api", "cli", "gui", "app"),
    "store": ("audio", "cluster", "service", "engine", "agent", "api", "cli", "gui", "app"),
    "protocol": ("audio", "store", "cluster", "service", "engine", "agent", "api", "cli", "gui", "app"),
    "engine": ("store", "cluster", "service", "agent", "api", "cli", "gui", "app"),
    "cluster": ("service", "agent", "api", "cli", "gui", "app"),
    "agent": ("store", "cluster", "service", "api", "cli", "gui", "app"),
    "service": ("agent", "api", "cli", "gui"),
    "security": ("store", "cluster", "service", "engine", "agent", "api", "cli", "gui", "app"),
}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if rel.parts else ""


def _imports(path: Path) -> set[str]:
    """Absolute dotted names a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    names.update(f"{module}.{alias.name}" for alias in node.names)
                else:
                    names.add(module)
            elif node.module:
                names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_layers(path: Path) -> None:
    layer = _layer(path)
    imported = _imports(path)
    for library, allowed in CONFINED.items():
        used = {name for name in imported if name == library or name.startswith(library + ".")}
        assert not used or layer in allowed, f"{library} may only be imported in {allowed}, not in {layer}"
    for forbidden in FORBIDDEN.get(layer, ()):
        bad = {n for n in imported if n == f"sttdesk.{forbidden}" or n.startswith(f"sttdesk.{forbidden}.")}
        assert not bad, f"sttdesk.{layer} must not import {sorted(bad)}"


def test_domain_uses_only_the_standard_library() -> None:
    import sys

    stdlib = set(sys.stdlib_module_names)
    for path in (PACKAGE / "domain").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top in stdlib or top == "sttdesk", f"{path.name} imports {name}"
