"""The architecture's layering rules, checked on every import statement in the packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("queueing", "wire", "hall_server", "devices", "printers", "kiosk")
OURS = set(PACKAGES)

# package -> top-level names it must never import (ARCHITECTURE.md, "Layering rules")
FORBIDDEN: dict[str, set[str]] = {
    "queueing": OURS - {"queueing"},
    "devices": {"hall_server", "kiosk"},
    "printers": {"hall_server", "kiosk"},
    "hall_server": {"devices", "printers", "kiosk", "PySide6", "serial", "smartcard", "escpos", "cv2"},
    "kiosk": {"hall_server"},
    # the contract between server and kiosk: no I/O, neither side's code (see WIRE_ALLOWED too)
    "wire": OURS - {"wire", "queueing"},
}
# queueing is pure: no I/O or framework libraries either
FORBIDDEN["queueing"] |= {"sqlalchemy", "fastapi", "requests", "PySide6", "serial", "socket", "sqlite3"}
FORBIDDEN["wire"] |= (FORBIDDEN["queueing"] - OURS) | {"starlette", "httpx", "websockets"}
# wire imports only pydantic (with its annotated_types), queueing and pure standard modules.
WIRE_ALLOWED = {"wire", "queueing", "pydantic", "annotated_types", "__future__", "typing", "enum", "datetime"}


def _imported_tops(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    tops: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            tops.add(node.module.split(".")[0])
    return tops


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_package_respects_layering(package: str) -> None:
    offenders = []
    for path in _files(package):
        bad = _imported_tops(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "layering rule broken:\n" + "\n".join(offenders)


def test_wire_imports_only_pydantic_and_queueing() -> None:
    offenders = []
    for path in _files("wire"):
        extra = _imported_tops(path) - WIRE_ALLOWED
        if extra:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(extra)}")
    assert _files("wire"), "the wire package is missing"
    assert not offenders, "wire must stay free of I/O and of both sides:\n" + "\n".join(offenders)


def test_layering_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import os\nfrom hall_server.app import create_app\n", encoding="utf-8")
    assert "hall_server" in _imported_tops(sample) & FORBIDDEN["kiosk"]
