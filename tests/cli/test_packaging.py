"""The package installs as a wheel with everything it needs at run time, and starts light."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runner.resources import EVENTS_SCHEMA, OPENAPI_SPEC, read_text, resource_path

REPO = Path(__file__).resolve().parents[2]

# Imported lazily inside the commands that need them; `sievefile --help` must not pay for them.
HEAVY_MODULES = ("httpx", "starlette", "uvicorn", "jsonschema", "rich", "sqlite3")


def test_openapi_spec_is_found_and_is_the_repository_copy() -> None:
    assert resource_path(OPENAPI_SPEC).is_file()
    assert "operationId: pushJob" in read_text(OPENAPI_SPEC)


def test_missing_resource_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="no-such-file"):
        resource_path("no-such-file.json")


def test_help_imports_no_heavy_module() -> None:
    probe = (
        "import sys, json\n"
        "from runner.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert json.loads(completed.stdout.splitlines()[-1]) == []


@pytest.mark.slow
def test_wheel_ships_packages_and_resources(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("sievefile-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "runner/cli.py" in names
    assert "plugins/__init__.py" in names
    assert f"runner/_resources/{OPENAPI_SPEC}" in names
    assert f"runner/_resources/{EVENTS_SCHEMA}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "sievefile = runner.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
