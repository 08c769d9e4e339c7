"""Matrix rows from data files (CSV, TSV, JSON Lines, JSON) and `matrix.include`: values, types,
instance names, and every problem located at its file:line."""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.errors import ManifestError
from runner.manifest import build_plan, check_manifest, load_manifest
from runner.manifest.rows import TextCell, coerce_cells

ROOT = Path(__file__).resolve().parents[2]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def manifest(folder: Path, matrix: str, inputs: str = "", name: str = "m.toml") -> Path:
    """A one-job manifest over local/echo with `matrix` lines and `inputs` lines."""
    body = 'version = 1\n[jobs.t]\nfunction = "local/echo"\n'
    return write(folder, name, body + textwrap.dedent(matrix) + textwrap.dedent(inputs))


def problems(path: Path) -> list[str]:
    return [str(problem) for problem in check_manifest(path)]


def instances(path: Path) -> dict[str, dict]:
    plan = build_plan(load_manifest(path), environ={})
    return {i.key: dict(i.matrix) for name in plan.jobs for i in plan.instances(name)}


CSV = """
id,url,language
a1,"https://example.com/a,b.mp4",en
b2,https://example.com/b.mp4,"fr"
c3,"https://example.com/c.mp4",de
"""


def test_csv_with_a_header_and_quoted_commas(tmp_path: Path) -> None:
    write(tmp_path, "videos.csv", CSV)
    path = manifest(
        tmp_path,
        'matrix.rows = "videos.csv"\n',
        'inputs.value = { url = "${{ matrix.url }}" }\n'
        'inputs.text = "${{ matrix.id }}-${{ matrix.language }}"\n',
    )
    found = instances(path)
    assert list(found) == ["t[row=1]", "t[row=2]", "t[row=3]"]
    assert found["t[row=1]"] == {
        "id": "a1",
        "url": "https://example.com/a,b.mp4",
        "language": "en",
    }
    plan = build_plan(load_manifest(path), environ={})
    first = plan.resolve_static(plan.instances("t")[0])
    # a cell inside longer text is its text (it was written as JSON: "\"a1\"-\"en\"")
    assert first.inputs == {"value": {"url": "https://example.com/a,b.mp4"}, "text": "a1-en"}
    # undeclared CSV cells stay text
    assert all(isinstance(value, str) for value in found["t[row=2]"].values())


def test_a_key_column_names_the_instances_and_axes_multiply_the_rows(tmp_path: Path) -> None:
    write(tmp_path, "videos.csv", CSV)
    path = manifest(
        tmp_path,
        'matrix.rows = "videos.csv"\nmatrix.key = "id"\nmatrix.target = ["es", "ja"]\n'
        'matrix.exclude = [{ language = "de", target = "ja" }]\n',
        'inputs.value = "${{ matrix.url }}"\ninputs.text = "${{ matrix.target }}"\n',
    )
    assert list(instances(path)) == [
        "t[id=a1,target=es]",
        "t[id=a1,target=ja]",
        "t[id=b2,target=es]",
        "t[id=b2,target=ja]",
        "t[id=c3,target=es]",
    ]


def test_names_stay_when_rows_are_appended(tmp_path: Path) -> None:
    data = write(tmp_path, "videos.csv", CSV)
    for key_line in ("", 'matrix.key = "id"\n'):
        path = manifest(
            tmp_path,
            'matrix.rows = "videos.csv"\n' + key_line,
            'inputs.value = "${{ matrix.url }}"\n',
        )
        data.write_text(textwrap.dedent(CSV).lstrip("\n"))
        before = instances(path)
        with data.open("a") as handle:
            handle.write("d4,https://example.com/d.mp4,it\n")
        after = instances(path)
        assert list(after)[:3] == list(before)
        assert {k: v for k, v in after.items() if k in before} == before
        assert len(after) == 4


def test_json_lines_and_json_arrays_keep_their_types(tmp_path: Path) -> None:
    rows = [
        {"id": 7, "url": "https://x/a.mp4", "duration": 12.5, "keep": True, "tags": ["a"]},
        {"id": 8, "url": "https://x/b.mp4", "duration": 3, "keep": False, "tags": []},
    ]
    (tmp_path / "clips.jsonl").write_text("".join(json.dumps(row) + "\n\n" for row in rows))
    (tmp_path / "clips.json").write_text(json.dumps(rows, indent=2))
    for name in ("clips.jsonl", "clips.json"):
        path = manifest(
            tmp_path,
            f'matrix.rows = "{name}"\nmatrix.key = "id"\n',
            'inputs.value = "${{ matrix.tags }}"\ninputs.number = "${{ matrix.duration }}"\n'
            'inputs.flag = "${{ matrix.keep }}"\n',
        )
        plan = build_plan(load_manifest(path), environ={})
        assert [i.key for i in plan.instances("t")] == ["t[id=7]", "t[id=8]"]
        resolved = [plan.resolve_static(i).inputs for i in plan.instances("t")]
        assert resolved == [
            {"value": ["a"], "number": 12.5, "flag": True},
            {"value": [], "number": 3, "flag": False},
        ]


def test_tsv_and_declared_column_types(tmp_path: Path) -> None:
    write(
        tmp_path,
        "clips.tsv",
        "name\tduration\tkeep\tcount\tmeta\tnote\n"
        'a\t12.5\tTRUE\t3\t{"k": [1]}\t\n'
        "b\t-1e3\tfalse\t-4\tnull\tsome, text\n",
    )
    path = manifest(
        tmp_path,
        'matrix.rows = "clips.tsv"\nmatrix.key = "name"\nmatrix.columns = { duration = "number", '
        'keep = "boolean", count = "integer", meta = "json", note = "string" }\n',
        'inputs.value = "${{ matrix.meta }}"\ninputs.text = "${{ matrix.note }}"\n',
    )
    found = instances(path)
    assert found["t[name=a]"] == {
        "name": "a",
        "duration": 12.5,
        "keep": True,
        "count": 3,
        "meta": {"k": [1]},
        "note": "",
    }
    assert found["t[name=b]"]["duration"] == -1000.0
    assert found["t[name=b]"]["keep"] is False
    assert found["t[name=b]"]["meta"] is None
    assert type(found["t[name=a]"]["note"]) is str  # declared: not a cell to coerce


def test_a_declared_column_with_a_value_of_another_type_is_located(tmp_path: Path) -> None:
    write(tmp_path, "clips.csv", "name,duration,keep\na,12,yes\nb,twelve,true\nc,,false\n")
    path = manifest(
        tmp_path,
        'matrix.rows = "clips.csv"\nmatrix.columns = { duration = "number", keep = "boolean" }\n',
        'inputs.number = "${{ matrix.duration }}"\n',
    )
    assert problems(path) == [
        f"{tmp_path}/clips.csv:2: column 'keep': expected true or false, got \"yes\"",
        f"{tmp_path}/clips.csv:3: column 'duration': expected a number, got \"twelve\"",
        f"{tmp_path}/clips.csv:4: column 'duration': expected a number, got an empty value",
    ]


def test_include_rows_inline_and_after_the_file(tmp_path: Path) -> None:
    write(tmp_path, "videos.csv", CSV)
    inline = manifest(
        tmp_path,
        'matrix.include = [{ url = "https://x/1.mp4", n = 1 }, { url = "https://x/2.mp4", '
        "n = 2 }]\n",
        'inputs.value = "${{ matrix.url }}"\ninputs.number = "${{ matrix.n }}"\n',
    )
    assert instances(inline) == {
        "t[include=1]": {"url": "https://x/1.mp4", "n": 1},
        "t[include=2]": {"url": "https://x/2.mp4", "n": 2},
    }
    both = manifest(
        tmp_path,
        'matrix.rows = "videos.csv"\nmatrix.include = [{ url = "https://x/extra.mp4" }]\n',
        'inputs.value = "${{ matrix.url }}"\n',
    )
    assert list(instances(both)) == ["t[row=1]", "t[row=2]", "t[row=3]", "t[include=1]"]


def test_data_file_problems_are_located_at_their_line(tmp_path: Path) -> None:
    data = "id,url,language\n" + "".join(f"v{n},https://x/{n}.mp4,en\n" for n in range(2, 513))
    data += 'v513,,en\n"v514","https://x/514.mp4\nwith a newline",en\nv515,https://x/a,b.mp4,en\n'
    data += "v2,https://x/dup.mp4,fr\n"
    (tmp_path / "videos.csv").write_text(data)
    path = manifest(
        tmp_path,
        'matrix.rows = "videos.csv"\nmatrix.key = "id"\nmax_instances = 1000\n',
        'inputs.value = { url = "${{ matrix.url }}" }\n',
    )
    assert problems(path) == [
        f"{tmp_path}/videos.csv:513: column 'url': empty value",
        f"{tmp_path}/videos.csv:516: 4 values for the header's 3 columns (quote a value that "
        "contains a comma)",
        f"{tmp_path}/videos.csv:517: key column 'id': duplicate value \"v2\" (first on line 2); "
        "each row needs its own key",
    ]


def test_an_unknown_column_suggests_one_from_the_header(tmp_path: Path) -> None:
    write(tmp_path, "videos.csv", CSV)
    path = manifest(
        tmp_path,
        'matrix.rows = "videos.csv"\nmatrix.key = "ids"\n'
        'matrix.columns = { langauge = "string" }\n',
        'inputs.value = "${{ matrix.ulr }}"\n',
    )
    videos = f"{tmp_path}/videos.csv"
    assert problems(path) == [
        f"{path}:5:14: job 't', matrix.key: no column 'ids' in {videos} (did you mean 'id'?) "
        "(columns: id, url, language)",
        f"{path}:6:20: job 't', matrix.columns.langauge: no column 'langauge' in {videos} "
        "(did you mean 'language'?) (columns: id, url, language)",
        f"{path}:7:17: job 't', inputs.value: ${{{{ matrix.ulr }}}}: no column 'ulr' in {videos} "
        "(did you mean 'url'?) (columns: id, url, language)",
    ]


def test_json_row_problems_are_located_at_their_line(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text(
        '{"id": "a", "url": "u"}\n{"id": "b"}\n[1, 2]\n{"id": "a", "url": "v"}\n{oops\n'
    )
    (tmp_path / "rows.json").write_text(
        '[\n  {"id": "a", "url": "u"},\n  {"id": "b",\n   "other": 1},\n  "text"\n]\n'
    )
    jsonl = manifest(
        tmp_path,
        'matrix.rows = "rows.jsonl"\nmatrix.key = "id"\n',
        'inputs.value = "${{ matrix.url }}"\n',
    )
    where = f"{tmp_path}/rows.jsonl"
    assert problems(jsonl) == [
        f"{where}:2: column 'url': no value in this row",
        f'{where}:3: a row must be a JSON object ({{"column": value, ...}}), got an array',
        f"{where}:4: key column 'id': duplicate value \"a\" (first on line 1); each row needs "
        "its own key",
        f"{where}:5: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
    ]
    array = manifest(
        tmp_path, 'matrix.rows = "rows.json"\n', 'inputs.value = "${{ matrix.url }}"\n', "a.toml"
    )
    where = f"{tmp_path}/rows.json"
    assert problems(array) == [
        f"{where}:3: column 'url': no value in this row",
        f'{where}:5: a row must be a JSON object ({{"column": value, ...}}), got a string',
    ]


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("missing.csv", None, "cannot read {dir}/missing.csv: No such file or directory"),
        ("rows.xlsx", "x", "{dir}/rows.xlsx: cannot read rows from a .xlsx file; use one of"),
        ("empty.csv", "", "{dir}/empty.csv is empty: it needs a header line naming the columns"),
        ("latin.csv", b"name\ncaf\xe9\n", "{dir}/latin.csv is not UTF-8 text"),
        ("obj.json", '{"rows": []}', "{dir}/obj.json: expected a JSON array of objects"),
    ],
)
def test_a_file_that_is_no_table_is_located_at_matrix_rows(
    tmp_path: Path, file: str, content: str | bytes | None, message: str
) -> None:
    if isinstance(content, bytes):
        (tmp_path / file).write_bytes(content)
    elif content is not None:
        (tmp_path / file).write_text(content)
    path = manifest(tmp_path, f'matrix.rows = "{file}"\n', 'inputs.value = "${{ matrix.x }}"\n')
    found = problems(path)
    assert found[0].startswith(f"{path}:4:15: job 't', matrix.rows: ")
    assert message.format(dir=tmp_path) in found[0]


def test_max_instances_counts_rows_times_axes_before_expanding(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_text("n\n" + "".join(f"{n}\n" for n in range(600)))
    path = manifest(
        tmp_path,
        'matrix.rows = "big.csv"\nmatrix.side = ["l", "r"]\n',
        'inputs.value = "${{ matrix.n }}"\n',
    )
    assert problems(path) == [
        f"{path}:4:1: job 't', matrix: the matrix expands to 1,200 instances (600 rows x 2), "
        "more than max_instances = 1,000; set max_instances on the job or in [defaults] to "
        "allow it"
    ]


def test_matrix_rows_may_come_from_a_var_and_the_sha256_is_kept(tmp_path: Path) -> None:
    data = write(tmp_path, "videos.csv", CSV)
    path = write(
        tmp_path,
        "m.toml",
        """
        version = 1
        [vars]
        batch = "nothing.csv"
        [jobs.t]
        function = "local/echo"
        matrix.rows = "${{ vars.batch }}"
        inputs.value = "${{ matrix.url }}"
    """,
    )
    loaded = load_manifest(path, variables={"batch": "videos.csv"})
    assert loaded.data_files == {"videos.csv": hashlib.sha256(data.read_bytes()).hexdigest()}
    with pytest.raises(ManifestError, match=r"nothing\.csv: No such file"):
        load_manifest(path)


def test_an_axis_named_like_a_column_and_settings_without_rows(tmp_path: Path) -> None:
    write(tmp_path, "videos.csv", CSV)
    clash = manifest(
        tmp_path,
        'matrix.rows = "videos.csv"\nmatrix.language = ["x"]\n',
        'inputs.value = "${{ matrix.url }}"\n',
    )
    assert problems(clash) == [
        f"{clash}:5:8: job 't', matrix.language: 'language' is both a matrix axis and a column "
        "of the rows; rename one"
    ]
    lonely = manifest(
        tmp_path,
        'matrix.x = [1]\nmatrix.key = "id"\n',
        'inputs.value = "${{ matrix.x }}"\n',
        name="k.toml",
    )
    assert problems(lonely) == [
        f"{lonely}:5:8: job 't', matrix.key: matrix.key is about rows: add matrix.rows (a data "
        "file) or matrix.include (rows written inline)"
    ]


def test_coerce_cells_takes_only_unambiguous_text() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "number"},
            "i": {"type": "integer"},
            "b": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
            "s": {"type": "string"},
            "either": {"type": ["string", "number"]},
            "file": {"anyOf": [{"type": "object", "properties": {"url": {"type": "string"}}}]},
        },
    }
    cells = {
        "n": TextCell("12.5"),
        "i": TextCell("7"),
        "b": TextCell("False"),
        "s": TextCell("3"),
        "either": TextCell("4"),
        "file": {"url": TextCell("1")},
    }
    assert coerce_cells(cells, schema) == {
        "n": 12.5,
        "i": 7,
        "b": False,
        "s": "3",
        "either": "4",
        "file": {"url": "1"},
    }
    for text in ("012", "1,000", " 12", "1.", "nan", "Infinity", "0x10", ""):
        assert coerce_cells({"n": TextCell(text)}, schema) == {"n": text}
    assert coerce_cells({"i": TextCell("2.5")}, schema) == {"i": "2.5"}  # not an integer
    assert coerce_cells({"b": TextCell("yes")}, schema) == {"b": "yes"}
    # a plain string (a value written in the manifest, a JSON value) is never coerced
    assert coerce_cells({"n": "12"}, schema) == {"n": "12"}


def test_init_from_a_data_file_maps_columns_to_the_function_inputs(tmp_path: Path) -> None:
    write(tmp_path, "clips.csv", "id,link,text,number,notes\na1,https://x/a.mp4,hi,2.5,n\n")
    (tmp_path / "out").mkdir()
    result = CliRunner().invoke(
        cli, ["init", "--from", str(tmp_path / "clips.csv"), "local/echo", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    written = tmp_path / "out" / "clips.toml"
    assert f"wrote {written}" in result.output
    lines = written.read_text().splitlines()
    # local/echo's schema comes from the embedded backend: columns named like inputs feed them
    assert lines[lines.index('matrix.rows = "../clips.csv"') :] == [
        'matrix.rows = "../clips.csv"',
        'matrix.key = "id"        # instances are named echo[id=...]',
        "# CSV cells are text; a number or boolean input takes them as such when the text is one.",
        '# Declare a column to be sure: matrix.columns = { duration = "number" }',
        "# local/echo's inputs, fed by the columns of the same name.",
        "# inputs.value = ...   # required: any value",
        'inputs.text = "${{ matrix.text }}"',
        'inputs.number = "${{ matrix.number }}"',
        "# column 'link' feeds no input (inputs: value, text, number, flag)",
        "# column 'notes' feeds no input (inputs: value, text, number, flag)",
    ]
    assert list(instances(written)) == ["echo[id=a1]"]
    again = CliRunner().invoke(
        cli, ["init", "--from", str(tmp_path / "clips.csv"), "local/echo", str(written)]
    )
    assert again.exit_code == 2
    assert "already exists" in again.output
    missing = CliRunner().invoke(cli, ["init", "--from", str(tmp_path / "clips.csv")])
    assert missing.exit_code == 2
    assert "needs the function" in missing.output


@pytest.mark.parametrize(("name", "text"), [("a.json", "[1, 2]"), ("b.jsonl", '{"x": 1}\n[3]\n')])
def test_init_from_rows_that_are_not_objects_is_a_usage_error(
    tmp_path: Path, name: str, text: str
) -> None:
    # It wrote a manifest that failed validation and exited 0.
    data = tmp_path / name
    data.write_text(text)
    result = CliRunner().invoke(cli, ["init", "--from", str(data), "local/echo"])
    assert result.exit_code == 2, result.output
    assert "a row must be a JSON object" in result.output
    assert not list(tmp_path.glob("*.toml"))


def test_init_from_without_a_known_schema_writes_one_input_per_column(tmp_path: Path) -> None:
    write(tmp_path, "videos.csv", CSV)
    result = CliRunner().invoke(
        cli, ["init", "--from", str(tmp_path / "videos.csv"), "acme/transcribe"]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "videos.toml").read_text()
    assert 'inputs.url = "${{ matrix.url }}"\ninputs.language = "${{ matrix.language }}"' in text
    assert list(instances(tmp_path / "videos.toml")) == [
        "transcribe[id=a1]",
        "transcribe[id=b2]",
        "transcribe[id=c3]",
    ]
    bad = CliRunner().invoke(cli, ["init", "--from", str(tmp_path / "nope.csv"), "acme/x"])
    assert bad.exit_code == 2
    assert f"cannot read {tmp_path}/nope.csv: No such file or directory" in bad.output


def test_plan_shows_rows_per_file(tmp_path: Path) -> None:
    write(tmp_path, "videos.csv", CSV)
    path = manifest(
        tmp_path,
        'matrix.rows = "videos.csv"\nmatrix.include = [{ url = "u" }]\n',
        'inputs.value = "${{ matrix.url }}"\n',
    )
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256((tmp_path / "videos.csv").read_bytes()).hexdigest()
    assert (
        f"    rows: {tmp_path}/videos.csv gives 3 instances (3 rows, sha256 {digest[:12]}); "
        "matrix.include gives 1 (1 rows)"
    ) in result.output.splitlines()
    assert "new since the last run" not in result.output  # no run yet: nothing to compare
    as_json = CliRunner().invoke(cli, ["plan", str(path), "--json"])
    assert json.loads(as_json.stdout)["waves"][0]["jobs"][0]["rows"] == {
        "file": f"{tmp_path}/videos.csv",
        "sha256": digest,
        "file_rows": 3,
        "file_instances": 3,
        "included_rows": 1,
        "included_instances": 1,
    }


DOC = ROOT / "docs" / "manifest.md"
_FILE_BLOCK = re.compile(r"^```(?:toml|csv) file=(\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_spreadsheet_section_shows_the_example_files_as_they_are() -> None:
    blocks = _FILE_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert {name for name, _ in blocks} >= {"manifests/batch.toml", "manifests/batch.csv"}
    for name, body in blocks:
        assert (ROOT / name).read_text(encoding="utf-8") == body, name


def test_columns_only_types_csv_and_tsv(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"n": 1}\n')
    jsonl = manifest(
        tmp_path,
        'matrix.rows = "rows.jsonl"\nmatrix.columns = { n = "number" }\n',
        'inputs.value = "${{ matrix.n }}"\n',
    )
    assert problems(jsonl) == [
        f"{jsonl}:5:20: job 't', matrix.columns.n: {tmp_path}/rows.jsonl is JSON: its values "
        "keep their own types; matrix.columns is for CSV and TSV files"
    ]
    inline = manifest(
        tmp_path,
        'matrix.include = [{ n = 1 }]\nmatrix.columns = { n = "number" }\n',
        'inputs.value = "${{ matrix.n }}"\n',
        "i.toml",
    )
    assert problems(inline) == [
        f"{inline}:5:20: job 't', matrix.columns.n: rows written inline: its values keep their "
        "own types; matrix.columns is for CSV and TSV files"
    ]


def test_problems_past_fifty_are_counted_and_odd_keys_get_a_digest(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("id,url\n" + "".join(f"r{n},\n" for n in range(60)))
    path = manifest(tmp_path, 'matrix.rows = "rows.csv"\n', 'inputs.value = "${{ matrix.url }}"\n')
    found = problems(path)
    assert len(found) == 51
    assert found[0] == f"{tmp_path}/rows.csv:2: column 'url': empty value"
    assert found[-1] == f"{tmp_path}/rows.csv:52: ... and 10 more problems from here on, not listed"
    (tmp_path / "odd.csv").write_text('id,url\n"my video, part 1",u1\nplain-2,u2\n')
    odd = manifest(
        tmp_path,
        'matrix.rows = "odd.csv"\nmatrix.key = "id"\n',
        'inputs.value = "${{ matrix.url }}"\n',
        "o.toml",
    )
    digest = hashlib.sha256(b"my video, part 1").hexdigest()[:10]
    assert list(instances(odd)) == [f"t[id=~{digest}]", "t[id=plain-2]"]


def test_bad_csv_quoting_is_located_and_reading_goes_on(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text('id,url\na,"u"x\nb,\n')
    path = manifest(tmp_path, 'matrix.rows = "rows.csv"\n', 'inputs.value = "${{ matrix.url }}"\n')
    assert problems(path) == [
        f"{tmp_path}/rows.csv:2: not valid CSV: ',' expected after '\"'",
        f"{tmp_path}/rows.csv:3: column 'url': empty value",
    ]


def test_rows_with_a_run_time_axis_are_checked_when_the_axis_is_known(tmp_path: Path) -> None:
    (tmp_path / "clips.csv").write_text("id,minutes\na,2.5\nb,3\n")
    path = write(
        tmp_path,
        "m.toml",
        """
        version = 1
        [jobs.src]
        function = "local/echo"
        inputs.value = ["x", "y"]
        [jobs.t]
        function = "local/echo"
        matrix.rows = "clips.csv"
        matrix.key = "id"
        matrix.out = "${{ jobs.src.outputs }}"
        inputs.value = "${{ matrix.out }}"
        inputs.number = "${{ matrix.minutes }}"
    """,
    )
    # the stand-in instance has no row: its `number` is not judged before the run
    result = CliRunner().invoke(cli, ["validate", "--local", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"ok: {path}\n"
