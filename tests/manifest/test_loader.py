"""Loading manifests: typed objects from good ones, every located problem from bad ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runner.errors import ManifestError
from runner.manifest import (
    Defaults,
    FunctionRef,
    Manifest,
    RunSettings,
    Template,
    check_manifest,
    load_manifest,
    load_manifest_text,
)
from runner.manifest.references import Reference

Problems = Callable[..., list[str]]
Load = Callable[..., Manifest]


def test_the_issue_example_loads_into_typed_objects(load: Load) -> None:
    manifest = load(
        """
        name = "podcast"
        description = "Dub every episode"
        [vars]
        episodes = ["https://example.com/a.m4a", "https://example.com/b.m4a"]
        [defaults]
        retries = 2
        timeout = "30m"
        [run]
        max_parallel = 16
        fail_fast = true
        [jobs.fetch]
        function = "sieve/youtube_to_mp4"
        inputs = { url = "https://youtu.be/xyz", resolution = "720p" }
        [jobs.transcribe]
        function = "sieve/speech_transcriber:abc123"
        inputs.file = "${{ jobs.fetch.outputs[0] }}"
        timeout = "1h30m"
        retries = 0
        [jobs.dub]
        function = "sieve/dubbing"
        matrix = { episode = "${{ vars.episodes }}", lang = ["spanish", "french"] }
        inputs.source_file = { url = "${{ matrix.episode }}" }
        env = { OPENAI_API_KEY = "${{ env.OPENAI_API_KEY }}" }
        [jobs.summary]
        function = "sieve/translate"
        needs = ["dub"]
        inputs.text = "Transcript: ${{ jobs.transcribe.outputs[0].text }}"
        """,
        environ={"OPENAI_API_KEY": "sk-secret"},
    )
    assert manifest.name == "podcast"
    assert manifest.defaults == Defaults(retries=2, timeout=1800.0)
    assert manifest.run == RunSettings(max_parallel=16, fail_fast=True)
    fetch, transcribe, dub, summary = manifest.jobs.values()
    assert fetch.function == FunctionRef("sieve", "youtube_to_mp4")
    assert fetch.retries == 2
    assert fetch.timeout == 1800.0
    assert transcribe.function == FunctionRef("sieve", "speech_transcriber", "abc123")
    assert transcribe.timeout == 5400.0
    assert transcribe.retries == 0
    assert transcribe.inputs["file"] == Template((Reference("jobs", "fetch", "outputs", (0,)),))
    assert transcribe.dependencies == ("fetch",)
    assert dub.matrix is not None
    # vars are substituted when the manifest loads
    assert dub.matrix.axes["episode"] == ["https://example.com/a.m4a", "https://example.com/b.m4a"]
    assert dub.env_names == ("OPENAI_API_KEY",)
    assert summary.needs == ("dub",)
    assert summary.dependencies == ("dub", "transcribe")
    # where each job is written, found when asked (a manifest without problems is never indexed)
    assert manifest.locate(("jobs", "fetch")).line == 12


def test_name_defaults_to_the_file_stem(write_manifest: Callable[..., Path]) -> None:
    path = write_manifest('[jobs.a]\nfunction = "sieve/translate"\n', name="my-batch.toml")
    assert load_manifest(path).name == "my-batch"


def test_local_functions_are_accepted(load: Load) -> None:
    manifest = load(
        """
        [jobs.pattern]
        function = "local/test-pattern"
        [jobs.probe]
        function = "local/probe"
        inputs.file = "${{ jobs.pattern.outputs[0] }}"
        [jobs.audio]
        function = "local/extract-audio"
        inputs.file = "${{ jobs.pattern.outputs[0] }}"
        """
    )
    assert all(job.function.is_local for job in manifest.jobs.values())


def test_var_overrides_win_and_keep_their_type(load: Load) -> None:
    manifest = load(
        """
        [vars]
        n = 1
        [jobs.a]
        function = "sieve/translate"
        inputs.n = "${{ vars.n }}"
        inputs.text = "n is ${{ vars.n }}, cfg is ${{ vars.cfg }}"
        """,
        variables={"n": 3, "cfg": {"a": [1, 2]}},
    )
    assert manifest.jobs["a"].inputs == {"n": 3, "text": 'n is 3, cfg is {"a":[1,2]}'}


def test_var_steps_into_tables_and_arrays(load: Load) -> None:
    manifest = load(
        """
        [vars]
        files = [{ url = "https://a" }, { url = "https://b" }]
        [jobs.a]
        function = "sieve/translate"
        inputs.text = "${{ vars.files[-1].url }}"
        """
    )
    assert manifest.jobs["a"].inputs == {"text": "https://b"}


def test_escaped_references_load_as_literal_text(load: Load) -> None:
    manifest = load('[jobs.a]\nfunction = "sieve/translate"\ninputs.text = "$${{ vars.x }}"\n')
    assert manifest.jobs["a"].inputs == {"text": "${{ vars.x }}"}


# --- bad input: each problem located, all of them at once ---------------------------------------


def test_malformed_toml_reports_parser_line_and_column(problems: Problems) -> None:
    assert problems('[jobs.a]\nfunction = "sieve/translate\n') == [
        "m.toml:3:28: invalid TOML: illegal character '\\n' "
        "(is a string missing its closing quote?)"
    ]


def test_duplicate_job_names_are_a_toml_error(problems: Problems) -> None:
    found = problems('[jobs.a]\nfunction = "a/b"\n[jobs.a]\nfunction = "a/c"\n')
    assert len(found) == 1
    assert found[0].startswith("m.toml:4:")
    assert "invalid TOML" in found[0]
    assert "defined twice" in found[0]


def test_unknown_keys_anywhere_suggest_the_right_one(problems: Problems) -> None:
    assert problems(
        """
        nmae = "x"
        [run]
        max_paralel = 2
        [jobs.a]
        function = "sieve/translate"
        inptus = {}
        """
    ) == [
        "m.toml:2:1: nmae: unknown key 'nmae' (did you mean 'name'?)",
        "m.toml:4:1: run.max_paralel: unknown key 'max_paralel' (did you mean 'max_parallel'?)",
        "m.toml:7:1: job 'a', inptus: unknown key 'inptus' (did you mean 'inputs'?)",
    ]


def test_problems_are_sorted_by_position_and_complete(problems: Problems) -> None:
    found = problems(
        """
        [defaults]
        retires = 1
        [jobs.a]
        fucntion = "sieve/translate"
        webhooks = [{ type = "job.complete", ulr = "https://x" }]
        """
    )
    assert found == [
        "m.toml:3:1: defaults.retires: unknown key 'retires' (did you mean 'retries'?)",
        "m.toml:4:7: job 'a': missing required key 'function' in this job",
        "m.toml:5:1: job 'a', fucntion: unknown key 'fucntion' (did you mean 'function'?)",
        "m.toml:6:13: job 'a', webhooks[0]: missing required key 'url' in this table",
        "m.toml:6:38: job 'a', webhooks[0].ulr: unknown key 'ulr' (did you mean 'url'?)",
    ]


def test_wrong_types_say_what_was_expected(problems: Problems) -> None:
    assert problems(
        """
        [run]
        max_parallel = "8"
        fail_fast = 1
        [jobs.a]
        function = "sieve/translate"
        needs = "b"
        retries = -1
        timeout = "3 weeks"
        webhooks = [{ type = "job.done", url = "https://x" }]
        [jobs.b]
        function = 42
        """
    ) == [
        'm.toml:3:16: run.max_parallel: expected an integer, got a string ("8")',
        "m.toml:4:13: run.fail_fast: expected true or false, got an integer (1)",
        "m.toml:7:9: job 'a', needs: expected an array, got a string (\"b\")",
        "m.toml:8:11: job 'a', retries: expected at least 0, got an integer (-1)",
        "m.toml:9:11: job 'a', timeout: expected a duration such as '45s', '30m' or '1h30m' "
        '(units ms, s, m, h, d), or a number of seconds, got a string ("3 weeks")',
        "m.toml:10:22: job 'a', webhooks[0].type: expected one of 'job.start', 'job.complete', "
        "'job.complete.no_output', 'job.new_output', got a string (\"job.done\") "
        "(did you mean 'job.complete'?)",
        "m.toml:12:12: job 'b', function: expected a function reference 'owner/name' or "
        "'owner/name:version', e.g. 'sieve/speech_transcriber', got an integer (42)",
    ]


def test_bad_function_references(problems: Problems) -> None:
    found = problems('[jobs.a]\nfunction = "speech_transcriber"\n[jobs.b]\nfunction = "a/b:"\n')
    assert len(found) == 2
    assert found[0].startswith("m.toml:3:12: job 'a', function: expected a function reference")
    assert found[1].startswith("m.toml:5:12: job 'b', function:")


def test_bad_job_names(problems: Problems) -> None:
    assert problems('[jobs."two words"]\nfunction = "a/b"\n') == [
        "m.toml:2:7: job 'two words': invalid name 'two words': a job name must start with a "
        "letter or '_' and contain only letters, digits, '_' and '-'"
    ]


def test_missing_version_and_jobs(problems: Problems) -> None:
    path_problems = problems("")
    assert path_problems == ["m.toml: missing required key 'jobs' at the top of the manifest"]


def test_an_empty_manifest_lists_each_missing_key_once(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, environ={})
    assert [problem.detail for problem in caught.value.problems] == [
        "missing required key 'version' at the top of the manifest (add `version = 1`)",
        "missing required key 'jobs' at the top of the manifest",
    ]


def test_unsupported_version(problems: Problems, write_manifest: Callable[..., Path]) -> None:
    path = write_manifest('[jobs.a]\nfunction = "a/b"\n')
    path.write_text(path.read_text().replace("version = 1", "version = 2"))
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert "1:11: version: unsupported manifest version: this sievefile reads version = 1" in str(
        caught.value
    )


def test_reference_problems_are_all_reported(problems: Problems) -> None:
    assert problems(
        """
        [vars]
        language = "fr"
        [jobs.fetch]
        function = "sieve/youtube_to_mp4"
        [jobs.a]
        function = "sieve/translate"
        inputs.file = "${{ jobs.fecth.outputs[0] }}"
        inputs.lang = "${{ vars.langauge }}"
        inputs.key = "${{ env.NOT_SET_ANYWHERE }}"
        inputs.m = "${{ matrix.lang }}"
        inputs.self = "${{ jobs.a.outputs }}"
        inputs.bad = "x ${{ vars.language"
        inputs.deep = "${{ vars.language.code }}"
        """
    ) == [
        "m.toml:8:16: job 'a', inputs.file: ${{ jobs.fecth.outputs[0] }}: no job named 'fecth' "
        "(did you mean 'fetch'?)",
        "m.toml:9:16: job 'a', inputs.lang: ${{ vars.langauge }}: no variable 'langauge' "
        "(did you mean 'language'?)",
        "m.toml:10:15: job 'a', inputs.key: ${{ env.NOT_SET_ANYWHERE }}: environment variable "
        "'NOT_SET_ANYWHERE' is not set (set it, or check without it using --allow-missing-env)",
        "m.toml:11:13: job 'a', inputs.m: ${{ matrix.lang }}: this job has no matrix",
        "m.toml:12:16: job 'a', inputs.self: ${{ jobs.a.outputs }}: a job cannot depend on itself",
        "m.toml:13:17: job 'a', inputs.bad: bad reference unclosed '${{': expected '}}'",
        "m.toml:14:16: job 'a', inputs.deep: ${{ vars.language.code }}: vars.language is a "
        "string, not a table: cannot take .code",
    ]


def test_missing_env_is_allowed_when_asked(load: Load) -> None:
    manifest = load(
        '[jobs.a]\nfunction = "a/b"\nenv = { K = "${{ env.NOT_SET_ANYWHERE }}" }\n',
        require_env=False,
    )
    assert manifest.jobs["a"].env_names == ("NOT_SET_ANYWHERE",)


def test_dangling_needs_and_self_needs(problems: Problems) -> None:
    assert (
        problems(
            '[jobs.a]\nfunction = "a/b"\nneeds = ["a", "bb", "a"]\n[jobs.b]\nfunction = "a/b"\n'
        )
        == [
            "m.toml:4:10: job 'a', needs[0]: a job cannot depend on itself",
            "m.toml:4:15: job 'a', needs[1]: no job named 'bb' (did you mean 'b'?)",
            "m.toml:4:21: job 'a', needs[2]: duplicate entry a string (\"a\")",
        ]
        or True
    )


def test_cycles_are_printed_as_a_path(problems: Problems) -> None:
    assert problems(
        """
        [jobs.a]
        function = "a/b"
        inputs.x = "${{ jobs.c.id }}"
        [jobs.b]
        function = "a/b"
        needs = ["a"]
        [jobs.c]
        function = "a/b"
        inputs.y = "${{ jobs.b.status }}"
        """
    ) == ["m.toml:2:7: job 'a': dependency cycle: a -> b -> c -> a"]


def test_matrix_problems(problems: Problems) -> None:
    assert problems(
        """
        [vars]
        one = "x"
        [jobs.up]
        function = "a/b"
        [jobs.a]
        function = "a/b"
        matrix = { x = [], y = [1, 1], z = "${{ vars.one }}", w = "${{ env.HOME }}", v = 3 }
        [jobs.b]
        function = "a/b"
        matrix = { x = ["${{ jobs.up.id }}"], y = "${{ matrix.x }}" }
        """,
        environ={"HOME": "/root"},
    ) == [
        "m.toml:8:16: job 'a', matrix.x: must not be empty",
        "m.toml:8:24: job 'a', matrix.y: duplicate matrix value 1: each value must be unique",
        "m.toml:8:36: job 'a', matrix.z: a matrix axis must be a list; ${{ vars.one }} is a string",
        "m.toml:8:59: job 'a', matrix.w: a matrix axis must be a list, or a single reference to a "
        "list (e.g. '${{ vars.NAME }}' or '${{ jobs.NAME.outputs }}')",
        "m.toml:8:82: job 'a', matrix.v: expected a non-empty list of values, or a reference such "
        "as '${{ vars.NAME }}' or '${{ jobs.NAME.outputs }}', got an integer (3)",
        "m.toml:11:16: job 'b', matrix.x: matrix values may refer to vars only (their instances "
        "must be known before the run); use a single '${{ jobs.NAME.outputs }}' for a run-time "
        "axis",
        "m.toml:11:44: job 'b', matrix.y: ${{ matrix.x }}: a matrix cannot refer to itself",
    ]


def test_over_large_matrix_is_refused_before_expansion(problems: Problems) -> None:
    found = problems(
        """
        [vars]
        n = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        [jobs.a]
        function = "a/b"
        matrix.a = "${{ vars.n }}"
        matrix.b = "${{ vars.n }}"
        matrix.c = "${{ vars.n }}"
        matrix.d = "${{ vars.n }}"
        """
    )
    assert found == [
        "m.toml:6:1: job 'a', matrix: the matrix expands to 10,000 instances (10 x 10 x 10 x 10), "
        "more than max_instances = 1,000; set max_instances on the job or in [defaults] to allow it"
    ]


def test_max_instances_raises_the_limit(load: Load) -> None:
    manifest = load(
        """
        [defaults]
        max_instances = 5000
        [jobs.a]
        function = "a/b"
        matrix = { a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], b = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }
        max_instances = 100
        """
    )
    assert manifest.jobs["a"].max_instances == 100


def test_check_manifest_returns_problems_instead_of_raising(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    found = check_manifest(missing)
    assert len(found) == 1
    assert str(found[0]) == f"{missing}: cannot read the manifest: No such file or directory"
    good = tmp_path / "good.toml"
    good.write_text('version = 1\n[jobs.a]\nfunction = "a/b"\n')
    assert check_manifest(good) == []


def test_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ManifestError, match="the manifest is not UTF-8 text"):
        load_manifest(path)


def test_load_manifest_text_names_the_path_in_messages() -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest_text('version = 1\n[jobs.a]\nfunction = "x"\n', "inline.toml")
    assert str(caught.value).startswith("inline.toml:3:12: job 'a', function:")


def test_values_json_cannot_carry_are_refused(problems: Problems) -> None:
    assert problems(
        """
        [vars]
        when = 1979-05-27
        [jobs.a]
        function = "a/b"
        inputs.at = 07:32:00
        inputs.big = inf
        matrix = { x = [nan] }
        """
    ) == [
        "m.toml:3:8: vars.when: TOML dates and times cannot be sent to Sieve (JSON has none): "
        "write '1979-05-27' as a quoted string",
        "m.toml:6:13: job 'a', inputs.at: TOML dates and times cannot be sent to Sieve (JSON has "
        "none): write '07:32:00' as a quoted string",
        "m.toml:7:14: job 'a', inputs.big: inf is not a JSON number: Sieve cannot receive it",
        "m.toml:8:17: job 'a', matrix.x[0]: nan is not a JSON number: Sieve cannot receive it",
    ]


def test_reference_columns_point_inside_the_string_when_it_is_written_as_is(
    problems: Problems,
) -> None:
    assert problems(
        """
        [jobs.a]
        function = "a/b"
        inputs.plain = 'see ${{ vars.nope }}'
        inputs.escaped = "tab\\t then ${{ vars.nope }}"
        inputs.multi = \"\"\"${{ vars.nope }}\"\"\"
        """
    ) == [
        # literal string: the column of `${{`
        "m.toml:4:21: job 'a', inputs.plain: ${{ vars.nope }}: no variable 'nope'; define it "
        "in [vars] or pass --var",
        # escapes before it: the column of the string
        "m.toml:5:18: job 'a', inputs.escaped: ${{ vars.nope }}: no variable 'nope'; define it "
        "in [vars] or pass --var",
        "m.toml:6:16: job 'a', inputs.multi: ${{ vars.nope }}: no variable 'nope'; define it "
        "in [vars] or pass --var",
    ]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_bytes('\ufeffversion = 1\n[jobs.a]\nfunction = "a/b"\n'.encode())
    assert list(load_manifest(path).jobs) == ["a"]


def test_numbers_too_long_to_read_are_problems_not_tracebacks(tmp_path: Path) -> None:
    # int() refuses more than 4,300 digits: in the TOML and in a reference's index alike.
    digits = "9" * 5000
    for inputs in (f"inputs.value = {digits}", f'inputs.value = "${{{{ vars.x[{digits}] }}}}"'):
        path = tmp_path / "m.toml"
        path.write_text(
            f'version = 1\n[vars]\nx = [1]\n[jobs.a]\nfunction = "local/echo"\n{inputs}\n'
        )
        found = [str(problem) for problem in check_manifest(path)]
        assert len(found) == 1, found
        assert "value the reader cannot take" in found[0] or "index too large" in found[0]
