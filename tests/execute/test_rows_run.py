"""Batches from data files run against a real local server: one push per row, values typed as the
function wants them, row problems located before anything is pushed, and appended rows pushed
on their own the next time."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.execute.records import list_records

REPO = Path(__file__).resolve().parents[2]

MANIFEST = """\
version = 1
[jobs.echo]
function = "local/echo"
matrix.rows = "{rows}"
matrix.key = "id"
{extra}
inputs.value = {{ url = "${{{{ matrix.url }}}}" }}
inputs.text = "${{{{ matrix.title }}}}"
inputs.number = "${{{{ matrix.minutes }}}}"
inputs.flag = "${{{{ matrix.subtitles }}}}"
"""

CSV = (
    "id,title,url,minutes,subtitles\n"
    'a1,"Hello, world",https://example.com/a.mp4,12.5,true\n'
    'b2,"Say ""hi""",https://example.com/b.mp4,3,FALSE\n'
)
ROWS = [
    {"id": "a1", "title": "Hello, world", "url": "https://example.com/a.mp4", "minutes": 12.5},
    {"id": "b2", "title": 'Say "hi"', "url": "https://example.com/b.mp4", "minutes": 3},
]
ROWS[0]["subtitles"], ROWS[1]["subtitles"] = True, False
TSV = (
    "id\ttitle\turl\tminutes\tsubtitles\na1\tHello, world\thttps://example.com/a.mp4\t12.5\ttrue\n"
)
TSV += 'b2\tSay "hi"\thttps://example.com/b.mp4\t3\tfalse\n'
EXPECTED = {
    f"echo[id={row['id']}]": {
        "value": {"url": row["url"]},
        "text": row["title"],
        "number": row["minutes"],
        "flag": row["subtitles"],
    }
    for row in ROWS
}


def run(path: Path, server: Any, *extra: str) -> tuple[int, str]:
    """`sievefile run` against `server`: the exit code, and stdout with `--json` (else all the
    output)."""
    result = CliRunner().invoke(
        cli,
        ["run", str(path), "--api-url", server.url, "--progress", "none", *extra],
        env={"SIEVE_API_KEY": server.api_key},
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout if "--json" in extra else result.output


def write_batch(folder: Path, rows_file: str, content: str, extra: str = "") -> Path:
    (folder / rows_file).write_text(content, encoding="utf-8")
    path = folder / "batch.toml"
    path.write_text(MANIFEST.format(rows=rows_file, extra=extra), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows_file", "content", "extra"),
    [
        # undeclared cells: `minutes` becomes a number because local/echo's `number` is one;
        # `subtitles` is declared, so `FALSE` is read as false whatever the input wants
        ("videos.csv", CSV, 'matrix.columns = { subtitles = "boolean" }'),
        ("videos.tsv", TSV, ""),
        ("videos.jsonl", "".join(json.dumps(row) + "\n" for row in ROWS), ""),
        ("videos.json", json.dumps(ROWS, indent=2), ""),
    ],
    ids=["csv", "tsv", "jsonl", "json"],
)
def test_one_push_per_row_with_the_values_the_function_takes(
    tmp_path: Path, local_server: Any, rows_file: str, content: str, extra: str
) -> None:
    path = write_batch(tmp_path, rows_file, content, extra)
    code, output = run(path, local_server, "--json")
    assert code == 0, output
    assert local_server.backend.stats.pushes == 2
    outputs = {job["key"]: job["outputs"][0] for job in json.loads(output)["jobs"]}
    assert outputs == EXPECTED


@pytest.mark.parametrize(
    ("content", "extra", "expected"),
    [
        (CSV + "c3,Empty,,4,true\n", "", ["{csv}:4: column 'url': empty value"]),
        (
            CSV + "a1,Again,https://example.com/c.mp4,4,true\n",
            "",
            [
                "{csv}:4: key column 'id': duplicate value \"a1\" (first on line 2); each row "
                "needs its own key"
            ],
        ),
        (
            CSV + "c3,Long,https://example.com/c.mp4,four,true\n",
            "",
            ["{csv}:4: job 'echo[id=c3]', inputs.number: expected a number, got \"four\""],
        ),
        (
            CSV.replace("id,title,", "id,titel,"),
            "",
            [
                "{toml}:8:16: job 'echo', inputs.text: ${{{{ matrix.title }}}}: no column "
                "'title' in {csv} (did you mean 'titel' or 'subtitles'?) (columns: id, titel, "
                "url, minutes, subtitles)"
            ],
        ),
        (
            CSV + "c3,Yes,https://example.com/c.mp4,4,yes\n",
            'matrix.columns = { subtitles = "boolean" }',
            ["{csv}:4: column 'subtitles': expected true or false, got \"yes\""],
        ),
    ],
    ids=["empty", "duplicate-key", "schema", "unknown-column", "declared-type"],
)
def test_a_bad_row_is_located_in_the_data_file_and_nothing_is_pushed(
    tmp_path: Path, local_server: Any, content: str, extra: str, expected: list[str]
) -> None:
    path = write_batch(tmp_path, "videos.csv", content, extra)
    code, output = run(path, local_server)
    assert code == 1
    for line in expected:
        assert line.format(csv=tmp_path / "videos.csv", toml=path) in output
    assert local_server.backend.stats.pushes == 0


def test_rows_appended_between_two_runs_push_only_the_new_rows(
    tmp_path: Path, local_server: Any
) -> None:
    path = write_batch(tmp_path, "videos.csv", CSV)
    data = tmp_path / "videos.csv"
    code, output = run(path, local_server)
    assert code == 0, output
    assert local_server.backend.stats.pushes == 2
    first_digest = hashlib.sha256(data.read_bytes()).hexdigest()

    with data.open("a", encoding="utf-8") as handle:
        handle.write("c3,Third,https://example.com/c.mp4,7,true\n")
        handle.write("d4,Fourth,https://example.com/d.mp4,8,false\n")
    plan = CliRunner().invoke(cli, ["plan", str(path)])
    assert plan.exit_code == 0, plan.output
    assert (
        "    new since the last run: 2 of 4 (the cache reuses the other 2 if their inputs are "
        "unchanged): echo[id=c3], echo[id=d4]"
    ) in plan.output.splitlines()

    code, output = run(path, local_server, "--json")
    assert code == 0, output
    assert local_server.backend.stats.pushes == 4  # the two new rows only
    jobs = {job["key"]: job for job in json.loads(output)["jobs"]}
    assert jobs["echo[id=a1]"]["cached_from"] is not None
    assert jobs["echo[id=b2]"]["cached_from"] is not None
    assert jobs["echo[id=c3]"]["outputs"][0]["number"] == 7
    assert jobs["echo[id=d4]"]["cached_from"] is None

    # each run record keeps the sha256 of the data file it read
    records = list_records(tmp_path / ".sievefile")
    assert [record["data_files"] for record in records] == [
        {"videos.csv": hashlib.sha256(data.read_bytes()).hexdigest()},
        {"videos.csv": first_digest},
    ]


def test_the_example_batch_runs_on_the_embedded_backend(tmp_path: Path) -> None:
    for name in ("batch.toml", "batch.csv"):
        shutil.copy(REPO / "manifests" / name, tmp_path / name)
    result = CliRunner().invoke(
        cli,
        ["run", str(tmp_path / "batch.toml"), "--local", "--json", "--progress", "none"],
        env={"SIEVE_API_KEY": "", "SIEVE_API_URL": ""},
    )
    assert result.exit_code == 0, result.output
    jobs = {job["key"]: job["outputs"][0] for job in json.loads(result.stdout)["jobs"]}
    assert jobs["talks[id=intro]"] == {
        "value": {"url": "https://example.com/talks/intro.mp4"},
        "text": "Welcome, and what we will build",
        "number": 12.5,
        "flag": True,
    }
    assert sorted(jobs) == ["talks[id=first-run]", "talks[id=intro]", "talks[id=setup]"]
