"""Python signatures and docstrings as Sieve function metadata, and push validation from them."""

from __future__ import annotations

import base64
import functools
import pickle
import re
import textwrap
import typing
from collections.abc import Generator, Iterator
from typing import Any, Literal, Optional, Union

import pytest

from runner import hookimpl
from runner.errors import ConfigError
from runner.local.docstrings import parse_docstring
from runner.local.registry import FunctionRegistry, build_registry, describe
from runner.local.types import Audio, File, Image, Video
from runner.plugins import build_plugin_manager


def inputs_of(function: Any, defaults: Any = "pickle") -> dict[str, dict[str, Any]]:
    metadata = describe(function, owner="t", name="f").metadata(defaults)
    return {item["name"]: item for item in metadata["latest_version"]["inputs"]}


def test_scalar_types_defaults_and_optionality() -> None:
    def f(text: str, count: int = 3, ratio: float = 0.25, flag: bool = True) -> str:
        return text

    items = inputs_of(f)
    # Defaults as the live service sends them: base64 of the SDK's pickle (protocol 5).
    assert [(i["type"], i["data"], i["is_optional"]) for i in items.values()] == [
        ("str", None, False),
        ("int", "gAVLAy4=", True),
        ("float", base64.b64encode(pickle.dumps(0.25, protocol=5)).decode(), True),
        ("bool", "gAWILg==", True),
    ]
    plain = inputs_of(f, "json")
    assert [(i["data"], i.get("default", "absent")) for i in plain.values()] == [
        (None, "absent"),
        (3, 3),
        (0.25, 0.25),
        (True, True),
    ]
    for item in items.values():
        assert set(item) == {
            "type",
            "name",
            "data",
            "description",
            "schema",
            "run_id",
            "is_optional",
        }
        assert item["run_id"] is None
    assert items["count"]["schema"] == {"type": "integer"}


def test_file_types_use_sieve_names_and_the_live_schema() -> None:
    def f(a: File, b: Video, c: Audio, d: Image) -> None:
        pass

    items = inputs_of(f)
    assert [i["type"] for i in items.values()] == [
        "sieve.File", "sieve.Video", "sieve.Audio", "sieve.Image"
    ]  # fmt: skip
    assert items["a"]["schema"] == {"url": {"title": "Url", "type": "string"}}


def test_literal_lists_dicts_optional_and_any() -> None:
    def f(
        mode: Literal["wav", "mp3"] = "wav",
        level: Literal[1, 2] = 1,
        names: list[str] | None = None,
        plain: list = [],  # noqa: B006
        table: dict[str, int] | None = None,
        maybe: Optional[str] = None,  # noqa: UP045
        either: Union[int, str] = 0,  # noqa: UP007
        anything: Any = None,
        untyped=None,  # type: ignore[no-untyped-def]
    ) -> None:
        pass

    items = inputs_of(f, "json")
    # The SDK's shape: a bare `Literal` type with the choices in `schema.options`.
    assert items["mode"]["type"] == "Literal"
    assert items["mode"]["schema"] == {"options": ["wav", "mp3"]}
    assert items["level"]["schema"] == {"options": [1, 2]}
    assert items["names"]["type"] == "Optional[list]"
    assert items["names"]["schema"] == {
        "type": "array", "items": {"type": "string"}, "nullable": True
    }  # fmt: skip
    assert items["plain"]["type"] == "list"
    assert items["plain"]["data"] == []
    assert items["table"]["schema"]["additionalProperties"] == {"type": "integer"}
    assert items["maybe"]["type"] == "Optional[str]"
    assert items["either"]["type"] == "Union[int, str]"
    assert items["anything"]["type"] == "Any"
    assert items["untyped"]["type"] == "Any"


def test_defaults_that_are_not_json_are_shown_readably() -> None:
    def f(file: File = File(url="https://example.com/a.mp4"), pair: tuple = (1, 2)) -> None:  # noqa: B008
        pass

    items = inputs_of(f, "json")
    assert items["file"]["data"] == {"url": "https://example.com/a.mp4"}
    assert items["pair"]["data"] == [1, 2]


def test_rest_docstrings_describe_function_inputs_and_output() -> None:
    def f(text: str, count: int = 1) -> str:
        """Repeat some text.

        Longer explanation
        over two lines.

        :param text: the text to
            repeat
        :param int count: how often
        :returns: the repeated text
        """
        return text * count

    metadata = describe(f, owner="t", name="f").metadata()
    assert metadata["description"] == "Repeat some text.\n\nLonger explanation over two lines."
    items = {i["name"]: i for i in metadata["latest_version"]["inputs"]}
    assert items["text"]["description"] == "the text to repeat"
    assert items["count"]["description"] == "how often"
    assert metadata["latest_version"]["outputs"][0]["description"] == "the repeated text"


def test_google_docstrings_describe_inputs_and_output() -> None:
    doc = parse_docstring(
        textwrap.dedent(
            """\
            Cut a clip.

            Args:
                start (float): where to start,
                    in seconds
                end: where to stop

            Returns:
                The clip.

            Raises:
                ValueError: never described as an input
            """
        )
    )
    assert doc.summary == "Cut a clip."
    assert doc.params == {"start": "where to start, in seconds", "end": "where to stop"}
    assert doc.returns == "The clip."


def test_outputs_follow_the_return_annotation() -> None:
    def one() -> Video:
        return Video(path="x")

    def many() -> Iterator[int]:
        yield 1

    def typed_generator() -> Generator[str, None, None]:
        yield "a"

    def none() -> None:
        pass

    def untyped():  # type: ignore[no-untyped-def]
        return 1

    def outputs(function: Any) -> list[tuple[str, str]]:
        version = describe(function, owner="t", name="f").metadata()["latest_version"]
        return [(o["type"], o["name"]) for o in version["outputs"]]

    assert outputs(one) == [("sieve.Video", "output_0")]
    assert outputs(many) == [("int", "output_0")]
    assert outputs(typed_generator) == [("str", "output_0")]
    assert outputs(none) == []
    assert outputs(untyped) == [("Any", "output_0")]
    assert describe(many, owner="t", name="f").metadata()["latest_version"]["stream_output"]


def test_the_version_id_is_a_stable_uuid_that_follows_code_and_signature() -> None:
    def f(text: str) -> str:
        return text

    def g(text: str) -> str:
        return text.upper()

    def h(text: str, other: int = 0) -> str:
        return text

    first = describe(f, owner="t", name="f").version_id
    assert first == describe(f, owner="t", name="f").version_id
    assert len(first) == 36
    assert first.count("-") == 4
    assert describe(g, owner="t", name="f").version_id != first
    assert describe(h, owner="t", name="f").version_id != first
    assert describe(f, owner="t", name="other").version_id != first
    # the function id depends on the name only
    assert (
        describe(g, owner="t", name="f").function_id == describe(f, owner="t", name="f").function_id
    )


@pytest.mark.parametrize(
    ("function", "fragment"),
    [
        (lambda *args: None, "*args and **kwargs"),
        (lambda **kwargs: None, "*args and **kwargs"),
        (eval("lambda x, /: None"), "positional-only"),
    ],
)
def test_signatures_sieve_cannot_express_are_rejected(function: Any, fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        describe(function, owner="t", name="f")


def test_unsupported_annotations_are_rejected_with_the_parameter_named() -> None:
    def f(when: complex) -> None:
        pass

    with pytest.raises(ConfigError, match=r"local function 't/f', parameter 'when'.*no Sieve type"):
        describe(f, owner="t", name="f")


def test_registry_rejects_bad_names_and_duplicates() -> None:
    registry = FunctionRegistry()

    def f() -> None:
        pass

    registry.register(f, name="owner/name")
    with pytest.raises(ConfigError, match="registered twice"):
        registry.register(f, name="owner/name")
    for bad in ("noslash", "a/b/c", "/x", "x/"):
        with pytest.raises(ConfigError, match="must look like 'owner/name'"):
            registry.register(f, name=bad)
    with pytest.raises(ConfigError, match="not callable"):
        registry.register(42, name="owner/other")  # type: ignore[arg-type]


def test_registration_options_reach_the_metadata() -> None:
    registry = FunctionRegistry()

    def f() -> None:
        """Docstring summary."""

    registry.register(
        f,
        name="me/thing",
        title="The Thing",
        tags=["audio"],
        readme="# Thing",
        environment_variables=[{"name": "TOKEN", "description": "a token", "default": ""}],
    )
    metadata = registry.find("me/thing").metadata()
    assert metadata["title"] == "The Thing"
    assert metadata["description"] == "Docstring summary."
    assert metadata["tags"] == ["audio"]
    assert metadata["readme"] == "# Thing"
    assert metadata["latest_version"]["environment_variables"][0]["name"] == "TOKEN"


def test_find_resolves_versions_and_suggests_names() -> None:
    registry = FunctionRegistry()

    def f() -> None:
        pass

    local = registry.register(f, name="local/extract-audio")
    assert registry.find("local/extract-audio") is local
    assert registry.find(f"local/extract-audio:{local.version_id}") is local
    with pytest.raises(LookupError, match="did you mean 'local/extract-audio'"):
        registry.find("local/extract-audi")
    bare = re.escape("named owner/name (did you mean 'local/extract-audio'?)")
    with pytest.raises(LookupError, match=bare):
        registry.find("extract-audio")
    with pytest.raises(LookupError, match="serves only"):
        registry.find("local/extract-audio:v1")
    assert registry.find_by_id(local.function_id) is local
    assert registry.find_by_id(local.version_id) is local


def test_plugins_fill_the_registry_through_the_hook() -> None:
    class Plugin:
        @hookimpl
        def register_functions(self, register: Any) -> None:
            register(lambda text="": text, name="plug/echo")

    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(Plugin())
    registry = build_registry(manager)
    assert registry.names() == ["plug/echo"]


def test_input_validation_comes_from_the_same_signature() -> None:
    def f(
        file: File,
        files: list[Audio] | None = None,
        mode: Literal["a", "b"] = "a",
        nested: dict[str, list[int]] | None = None,
    ) -> None:
        pass

    local = describe(f, owner="t", name="f")
    ok = {"file": {"url": "https://x/y.mp4"}, "files": [{"path": "/a.wav"}], "mode": "b"}
    assert local.input_errors(ok, ["inputs"]) == []
    bad = {"file": "x", "files": [{"url": 1}], "mode": "c", "nested": {"k": [1, "2"]}}
    found = {tuple(p["loc"]): p["type"] for p in local.input_errors(bad, ["inputs"])}
    assert found == {
        ("inputs", "file"): "file_type",
        ("inputs", "files", 0): "file_type",
        ("inputs", "mode"): "literal_error",
        ("inputs", "nested", "k", 1): "int_type",
    }
    assert local.input_errors({"files": None}, ["inputs"])[0]["type"] == "missing"


def test_file_values_become_file_objects_of_the_annotated_class() -> None:
    def f(video: Video, extras: list[Audio] | None = None) -> None:
        pass

    local = describe(f, owner="t", name="f")
    opened: list[tuple[dict, type]] = []

    def open_file(value: dict[str, Any], cls: type[File]) -> File:
        opened.append((value, cls))
        return cls(url=value.get("url"), path="/local/copy")

    arguments = local.arguments(
        {"video": {"url": "https://x/v.mp4"}, "extras": [{"path": "/a.wav"}]}, open_file
    )
    assert isinstance(arguments["video"], Video)
    assert arguments["video"].path == "/local/copy"
    assert [type(a) for a in arguments["extras"]] == [Audio]
    assert [cls for _, cls in opened] == [Video, Audio]


def test_partials_and_callable_instances_are_functions_too() -> None:
    def scale(value: float, factor: float = 1.0) -> float:
        return value * factor

    class Doubler:
        def __call__(self, value: int) -> int:
            return value * 2

    double = describe(functools.partial(scale, factor=2.0), owner="t", name="double")
    inputs = double.metadata("json")["latest_version"]["inputs"]
    assert [(i["name"], i["data"]) for i in inputs] == [
        ("value", None),
        ("factor", 2.0),
    ]
    triple = describe(functools.partial(scale, factor=3.0), owner="t", name="double")
    assert triple.version_id != double.version_id  # the bound arguments are part of the code
    again = describe(functools.partial(scale, factor=2.0), owner="t", name="double")
    assert again.version_id == double.version_id
    instance = describe(Doubler(), owner="t", name="doubler")
    assert instance.version_id == describe(Doubler(), owner="t", name="doubler").version_id
    assert instance.metadata()["latest_version"]["outputs"][0]["type"] == "int"


def test_typing_module_aliases_map_like_the_builtins() -> None:
    def f(
        a: typing.List[int],  # noqa: UP006
        b: typing.Dict[str, str],  # noqa: UP006
        c: typing.Tuple[int, int],  # noqa: UP006
        d: typing.List,  # noqa: UP006
    ) -> None:
        pass

    items = inputs_of(f)
    assert [items[name]["type"] for name in "abcd"] == ["list", "dict", "list", "list"]
    assert items["a"]["schema"] == {"type": "array", "items": {"type": "integer"}}
