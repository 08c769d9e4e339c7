"""The plugin in docs/plugins.md works as printed: its sink and notifier take part in a real run."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
from pathlib import Path

from runner.execute.run import RunRequest, execute
from runner.plugins import build_plugin_manager

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _example_module(folder: Path) -> object:
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(), re.MULTILINE | re.DOTALL)
    (source,) = [block for block in blocks if block.startswith("# sievefile_jsonl.py")]
    path = folder / "sievefile_jsonl.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("sievefile_jsonl_doc_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_plugin_delivers_and_notifies(tmp_path: Path, capsys) -> None:
    plugins = build_plugin_manager(("plugins.local_functions",), load_entry_points=False)
    plugins.register(_example_module(tmp_path), name="sievefile-jsonl")
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        """
version = 1
[jobs.greet]
function = "local/echo"
inputs = { value = "hello", text = "from the docs" }

[[sinks]]
use = "jsonl"
path = "outputs.jsonl"
jobs = ["greet"]

[[notify]]
use = "jsonl"
path = "events.jsonl"
on = ["job.error", "run.finished"]
"""
    )
    summary = asyncio.run(execute(RunRequest(manifest, plugins=plugins)))
    assert summary.ok
    assert summary.delivered
    (line,) = (tmp_path / "outputs.jsonl").read_text().splitlines()
    assert json.loads(line)["data"]["value"] == "hello"
    assert json.loads(line)["job"] == "greet"
    (event,) = (tmp_path / "events.jsonl").read_text().splitlines()
    assert json.loads(event)["event"] == "run.finished"
    assert json.loads(event)["summary"]["status"] == "finished"
    printed = capsys.readouterr()
    assert "sievefile-jsonl: run finished" in printed.err
    assert printed.out == ""
