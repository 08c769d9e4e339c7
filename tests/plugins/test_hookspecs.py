"""Every hook is typed, documented and tested; the allow-list decides which plugins load."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from runner import RegisterFunction, hookspecs
from runner.local.registry import build_registry
from runner.plugins import ALLOW_LIST_ENV, DEFAULT_PLUGINS, build_plugin_manager

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"

TESTS = Path(__file__).resolve().parents[1]
LIFECYCLE = (
    "execute/test_delivery.py::test_lifecycle_hooks_get_records_and_take_a_subset_of_arguments"
)

# Hook name -> the test (path under tests/ :: name) that exercises it.
TESTED_HOOKS = {
    "register_functions": (
        "plugins/test_hookspecs.py::test_register_functions_reaches_the_local_backend"
    ),
    "register_sinks": "execute/test_delivery.py::test_outputs_reach_each_sink_that_takes_their_job",
    "register_notifiers": (
        "execute/test_delivery.py::test_notifiers_hear_the_events_they_listen_to"
    ),
    "register_commands": "plugins/test_loading.py::test_register_commands_adds_a_command",
    "run_started": LIFECYCLE,
    "job_pushed": LIFECYCLE,
    "job_finished": LIFECYCLE,
    "run_finished": LIFECYCLE,
}


def test_hook_names_are_discovered() -> None:
    assert "register_functions" in hookspecs.HOOK_NAMES


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_every_hook_is_typed_and_has_a_docstring(name: str) -> None:
    function = getattr(hookspecs, name)
    signature = inspect.signature(function)
    assert signature.return_annotation is not inspect.Signature.empty
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, parameter.name
    assert "Called" in (function.__doc__ or ""), "say when the hook is called"


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_every_hook_is_documented_and_tested(name: str) -> None:
    documented = re.findall(r"^### `(\w+)\(", DOCS.read_text(), flags=re.MULTILINE)
    assert name in documented
    assert name in TESTED_HOOKS


@pytest.mark.parametrize("name", sorted(TESTED_HOOKS))
def test_the_named_hook_tests_exist(name: str) -> None:
    path, _, test = TESTED_HOOKS[name].partition("::")
    assert f"def {test}(" in (TESTS / path).read_text(), TESTED_HOOKS[name]


def test_the_manifest_schema_lists_every_notification_event() -> None:
    from runner import EVENTS
    from runner.manifest.structure import manifest_schema

    listed = manifest_schema()["$defs"]["notifier"]["properties"]["on"]["items"]["enum"]
    assert tuple(listed) == EVENTS


def test_register_functions_reaches_the_local_backend() -> None:
    class Plugin:
        @hookspecs.hookimpl
        def register_functions(self, register: RegisterFunction) -> None:
            def shout(text: str) -> str:
                """Upper-case `text`."""
                return text.upper()

            register(shout, name="me/shout")

    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(Plugin())
    registry = build_registry(manager)
    function = registry.get("me", "shout")
    assert function is not None
    metadata = function.metadata()
    assert metadata["owner_name"] == "me"
    assert [item["name"] for item in metadata["latest_version"]["inputs"]] == ["text"]


def test_every_default_plugin_loads() -> None:
    manager = build_plugin_manager(load_entry_points=False)
    assert [manager.get_plugin(name) is not None for name in DEFAULT_PLUGINS] == [True] * len(
        DEFAULT_PLUGINS
    )


def test_the_allow_list_limits_what_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_LIST_ENV, "plugins.local_functions")
    manager = build_plugin_manager(load_entry_points=False)
    assert manager.get_plugin("plugins.local_functions") is not None
    assert manager.get_plugin("plugins.media") is None
    monkeypatch.setenv(ALLOW_LIST_ENV, "")
    assert build_plugin_manager(load_entry_points=False).get_plugins() == set()


def test_every_public_name_is_listed_for_plugin_authors() -> None:
    """docs/plugins.md lists the public API: every name of `runner.__all__`, and no other
    name presented as one of them."""
    import re

    import runner

    text = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    table = text[text.index("| for | names |") : text.index("## A plugin, start to finish")]
    missing = [name for name in runner.__all__ if f"`{name}`" not in table]
    assert missing == []
    listed = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", table))
    # the rest are attributes and arguments shown beside the names
    assert {name for name in listed if name[0].isupper() and name not in runner.__all__} == set()


def test_the_built_in_plugins_use_only_the_public_api() -> None:
    """Built-in features are plugins written as a third party would write them: from sievefile
    they import `runner` (its `__all__`) and their own helpers in `plugins`, nothing else."""
    import ast

    import runner

    plugins_dir = Path(__file__).resolve().parents[2] / "plugins"
    for path in sorted(plugins_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "runner":
                assert node.module == "runner", f"{path.name}:{node.lineno} imports {node.module}"
                for alias in node.names:
                    assert alias.name in runner.__all__, f"{path.name}: runner.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:  # `import runner` is the public API; `runner.x` is not
                    assert not alias.name.startswith("runner."), f"{path.name}: {alias.name}"
