"""The `local` sink: files streamed into the template's folder, atomically, never outside it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import threading
from pathlib import Path
from typing import IO

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins._sinks import PathTemplate
from plugins.local_sink import LocalSink
from runner import ConfigError, OutputRecord, PluginContext, SievefileError
from runner.plugins import build_plugin_manager, sink_kinds
from tests.support.outputs import (
    HOSTILE_NAMES,
    disk_opener,
    file_output,
    files_under,
    hostile_delivery,
    http_opener,
    json_output,
    make_delivery,
    serve_directory,
)

RUN = "20261202-140000-abcd"


def local_sink(project: Path, path: str, *, index: int = 0) -> LocalSink:
    context = PluginContext(manifest=project / "sievefile.toml", manifest_dir=project, index=index)
    return LocalSink.from_config({"path": path}, context)


@pytest.fixture
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder, apart from the sink's, holding `clip.mp4`: 3 MiB and a bit (several chunks)."""
    folder = tmp_path_factory.mktemp("media")
    (folder / "clip.mp4").write_bytes(bytes(range(256)) * (3 * 4096 + 7))
    return folder


def test_a_file_output_is_streamed_from_an_http_server_into_the_rendered_folder(
    tmp_path: Path, media: Path
) -> None:
    sink = local_sink(tmp_path, "out/{run}/{job}")
    with serve_directory(media) as base:
        url = f"{base}/clip.mp4?token=abc"
        delivered = sink.deliver(make_delivery(file_output(0, url, http_opener(url))))
    target = tmp_path / "out" / RUN / "transcribe" / "output_0.mp4"
    assert delivered == str(target)
    assert target.read_bytes() == (media / "clip.mp4").read_bytes()
    assert files_under(tmp_path) == [target]  # no temporary file left behind


def test_a_json_output_is_written_as_json_relative_to_the_manifest_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    data = {"text": "grüße", "segments": [{"start": 0.0, "end": 1.5}]}
    delivered = local_sink(project, "out").deliver(make_delivery(json_output(1, data)))
    assert delivered == str(project / "out" / "output_1.json")
    assert json.loads(Path(delivered).read_text(encoding="utf-8")) == data


def test_output_in_the_template_names_the_file_and_keeps_the_suffix(
    tmp_path: Path, media: Path
) -> None:
    url = "file:///somewhere/clip.mp4"
    delivery = make_delivery(file_output(2, url, disk_opener(media / "clip.mp4")))
    delivered = local_sink(tmp_path, "out/{job}-{output}").deliver(delivery)
    assert delivered == str(tmp_path / "out" / "transcribe-output_2.mp4")


def test_matrix_instances_get_a_folder_each_when_the_template_names_neither(
    tmp_path: Path,
) -> None:
    sink = local_sink(tmp_path, "out/{job}")
    for fmt in ("wav", "mp3"):
        sink.deliver(make_delivery(json_output(0, {"format": fmt}), instance=f"format={fmt}"))
    for fmt in ("wav", "mp3"):
        written = tmp_path / "out" / "transcribe" / f"format={fmt}" / "output_0.json"
        assert json.loads(written.read_text()) == {"format": fmt}


def test_redelivering_the_same_bytes_leaves_the_file_untouched_and_new_bytes_replace_it(
    tmp_path: Path, media: Path
) -> None:
    sink = local_sink(tmp_path, "out/{run}")
    source = media / "clip.mp4"
    delivery = make_delivery(file_output(0, "file:///x/clip.mp4", disk_opener(source)))
    target = Path(sink.deliver(delivery))
    os.utime(target, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = target.stat()
    assert sink.deliver(delivery) == str(target)
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    source.write_bytes(b"a different take")
    assert sink.deliver(delivery) == str(target)
    assert target.read_bytes() == b"a different take"
    assert files_under(tmp_path / "out") == [target]


def test_written_files_get_the_umasks_permissions(tmp_path: Path) -> None:
    before = os.umask(0o027)
    try:
        delivered = local_sink(tmp_path, "out").deliver(make_delivery(json_output(0, 1)))
    finally:
        os.umask(before)
    assert stat.S_IMODE(Path(delivered).stat().st_mode) == 0o640


def test_concurrent_deliveries_of_one_output_leave_one_whole_file(
    tmp_path: Path, media: Path
) -> None:
    sink = local_sink(tmp_path, "out")
    source = media / "clip.mp4"
    delivery = make_delivery(file_output(0, "file:///x/clip.mp4", disk_opener(source)))
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            sink.deliver(delivery)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert files_under(tmp_path / "out") == [tmp_path / "out" / "output_0.mp4"]
    assert (tmp_path / "out" / "output_0.mp4").read_bytes() == source.read_bytes()


def test_a_source_that_fails_mid_stream_leaves_no_file_and_its_error_is_its_own(
    tmp_path: Path,
) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.reads = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            self.reads += 1
            if self.reads > 2:
                raise ConnectionResetError("the storage hung up")
            buffer[:4] = b"data"
            return 4

    def opener() -> contextlib.AbstractContextManager[IO[bytes]]:
        return io.BufferedReader(Broken(), buffer_size=4)

    delivery = make_delivery(file_output(0, "http://127.0.0.1/x.mp4", opener))
    with pytest.raises(ConnectionResetError, match="hung up"):
        local_sink(tmp_path, "out").deliver(delivery)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("hostile", HOSTILE_NAMES, ids=lambda text: repr(text)[:20])
def test_hostile_names_and_urls_never_write_outside_the_sink_folder(
    tmp_path: Path, media: Path, hostile: str
) -> None:
    project = tmp_path / "project"
    sink = local_sink(project, "out/{run}/{name}/{job}/{instance}/{function}/{key}")
    root = project / "out"
    urls = (f"http://127.0.0.1/{hostile}", hostile, f"file:///{hostile}.mp4", "C:\\x\\evil.exe")
    for index, url in enumerate(urls):
        output = file_output(index, url, disk_opener(media / "clip.mp4"))
        delivery = hostile_delivery(output, hostile)
        delivered = Path(sink.deliver(delivery))
        assert delivered.is_relative_to(root)
        assert all(len(part.encode()) <= 255 for part in delivered.relative_to(root).parts)
    written = files_under(tmp_path)
    assert len(written) == len(urls)
    assert all(path.resolve().is_relative_to(root.resolve()) for path in written)


@pytest.mark.parametrize(
    ("job", "folder"),
    [
        ("../../x", "_.._x"),
        ("/etc/x", "_etc_x"),
        ("C:\\x", "C__x"),
        ("a\x00b", "a_b"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("..", "_"),
        ("dub[lang=fr]", "dub[lang=fr]"),
    ],
)
def test_each_placeholder_value_becomes_one_safe_folder(
    tmp_path: Path, job: str, folder: str
) -> None:
    delivered = local_sink(tmp_path, "out/{job}").deliver(make_delivery(json_output(0, 1), job=job))
    assert delivered == str(tmp_path / "out" / folder / "output_0.json")


def test_long_names_cut_to_fit_stay_apart(tmp_path: Path) -> None:
    sink = local_sink(tmp_path, "out/{job}")
    for ending in ("a", "b"):
        sink.deliver(make_delivery(json_output(0, ending), job="x" * 10_000 + ending))
    written = files_under(tmp_path / "out")
    assert len(written) == 2
    assert {json.loads(path.read_text()) for path in written} == {"a", "b"}


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / RUN).symlink_to(outside)
    with pytest.raises(SievefileError, match="outside the sink's folder"):
        local_sink(tmp_path, "out/{run}").deliver(make_delivery(json_output(0, 1)))
    assert list(outside.iterdir()) == []


def test_an_unwritable_path_is_one_line_naming_the_sink_and_the_path(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where the folder should be")
    with pytest.raises(SievefileError) as caught:
        local_sink(tmp_path, "out/{job}", index=3).deliver(make_delivery(json_output(0, 1)))
    message = str(caught.value)
    assert message.startswith("sinks[3] (local): cannot write ")
    assert str(tmp_path / "out" / "transcribe") in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("out/{jbo}", r"sinks\[0\]\.path: unknown placeholder \{jbo\}; use one of \{run\}"),
        ("out/{run}/../x", r"sinks\[0\]\.path: .* '\.\.' segment"),
        ("out/{run", r"sinks\[0\]\.path: a '\{' or '\}'"),
        ("out/{{run}}", r"sinks\[0\]\.path: a '\{' or '\}'"),
    ],
)
def test_a_bad_template_is_a_config_error_naming_the_key(
    tmp_path: Path, template: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        local_sink(tmp_path, template)


def test_a_parent_folder_before_the_first_placeholder_is_the_users_choice(tmp_path: Path) -> None:
    project = tmp_path / "project"
    delivered = local_sink(project, "../results/{job}").deliver(make_delivery(json_output(0, 1)))
    assert Path(delivered).resolve() == tmp_path / "results" / "transcribe" / "output_0.json"


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.text(), min_size=6, max_size=6),
    url=st.text(),
    template=st.sampled_from(["{run}/{name}/{job}/{instance}", "p/{key}-{function}/{output}"]),
)
def test_rendered_segments_are_always_single_safe_names(
    values: list[str], url: str, template: str
) -> None:
    output = OutputRecord(index=0, data={"url": url}, url=url)
    run, name, job, instance, key, function = values
    delivery = make_delivery(
        output, run_id=run, name=name, job=job, instance=instance, key=key, function=function
    )
    segments = PathTemplate.parse(template, where="t", anchored=False).render(delivery)
    for segment in segments:
        assert segment not in ("", ".", "..")
        assert not set(segment) & set('/\\\x00:<>"|?*')
        assert len(segment.encode("utf-8")) <= 255
        assert segment == segment.strip()


def test_both_sinks_are_registered_with_schemas_that_check_their_entries() -> None:
    kinds = sink_kinds(build_plugin_manager(load_entry_points=False))
    assert {name: plugin for name, (_, plugin) in kinds.items()} == {
        "local": "plugins.local_sink",
        "s3": "plugins.s3",
    }
    local, s3 = kinds["local"][0], kinds["s3"][0]
    for kind, good in ((local, {"path": "out/{run}"}), (s3, {"bucket": "b"})):
        validator = jsonschema.Draft202012Validator(kind.config_schema)
        validator.check_schema(kind.config_schema)
        assert list(validator.iter_errors(good)) == []
        assert [e.validator for e in validator.iter_errors({**good, "pth": 1})] == [
            "additionalProperties"
        ]
    assert local.destination is not None
    assert local.destination({"path": "out/{run}"}) == "out/{run}"
