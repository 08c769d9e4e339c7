"""Real distributions on disk for in-process plugin tests (see tests/plugins/conftest.py).

`DistributionSite(folder).install(name, version, plugins)` writes a `NAME-VERSION.dist-info`
folder (METADATA and `entry_points.txt` with a `[sievefile]` section) beside one module per
entry point. With the folder on `sys.path`, `importlib.metadata` finds it like any installed
package. Module names are unique, so tests never see each other's modules.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

#: install_distribution(name, version, {entry-point name: module source}) -> {name: module}
InstallDistribution = Callable[[str, str, dict[str, str]], dict[str, str]]


class DistributionSite:
    """A site-packages-like folder of test distributions."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.modules: list[str] = []

    def install(self, name: str, version: str, plugins: dict[str, str]) -> dict[str, str]:
        """Install distribution `name` with one `sievefile` entry point per plugin source;
        returns each entry point's module name."""
        names = {
            entry: f"sievefile_test_{uuid.uuid4().hex[:8]}_{entry.replace('-', '_')}"
            for entry in plugins
        }
        info = self.folder / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        entry_points = "".join(f"{entry} = {module}\n" for entry, module in names.items())
        (info / "entry_points.txt").write_text(f"[sievefile]\n{entry_points}")
        for entry, source in plugins.items():
            (self.folder / f"{names[entry]}.py").write_text(textwrap.dedent(source))
        self.modules.extend(names.values())
        importlib.invalidate_caches()
        return names

    def forget_modules(self) -> None:
        """Drop the modules imported from this folder."""
        for module in self.modules:
            sys.modules.pop(module, None)
