"""`${{ ... }}` references: parsing, escapes, and the errors for bad ones."""

from __future__ import annotations

import pytest

from runner.manifest.references import (
    Reference,
    ReferenceSyntaxError,
    Template,
    parse_reference,
    parse_template,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vars.language", Reference("vars", "language")),
        (" env.OPENAI_API_KEY ", Reference("env", "OPENAI_API_KEY")),
        ("matrix.lang", Reference("matrix", "lang")),
        ("jobs.fetch.outputs[0]", Reference("jobs", "fetch", "outputs", (0,))),
        ("jobs.fetch.outputs", Reference("jobs", "fetch", "outputs")),
        ("jobs.my-job.id", Reference("jobs", "my-job", "id")),
        ("jobs.fetch.status", Reference("jobs", "fetch", "status")),
        (
            "jobs.t.outputs[0].segments[-1]['start time']",
            Reference("jobs", "t", "outputs", (0, "segments", -1, "start time")),
        ),
        ('vars.cfg["a.b"][ 2 ]', Reference("vars", "cfg", None, ("a.b", 2))),
    ],
)
def test_parse_reference(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty reference"),
        (
            "jobz.a.outputs",
            "unknown scope 'jobz': expected vars, env, matrix or jobs (did you mean 'jobs'?)",
        ),
        (
            "jobs.a.output",
            "unknown job field 'output': expected outputs, id or status (did you mean 'outputs'?)",
        ),
        ("jobs.a", "expected '.outputs', '.id' or '.status' after 'jobs.a'"),
        ("vars", "expected '.' after 'vars'"),
        ("vars.x[", "expected an integer index or a quoted key"),
        ("vars.x[1", "expected ']'"),
        ("vars.x + 1", "unexpected '+ 1' in reference"),
        ("env.KEY.part", "env values are strings"),
        ("jobs.a.id[0]", "jobs.a.id is a string"),
        ("__import__('os').system('x')", "unknown scope '__import__'"),
    ],
)
def test_bad_references_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_reference(text)
    assert message in caught.value.message


def test_plain_strings_stay_strings() -> None:
    assert parse_template("no references here") == "no references here"


def test_whole_string_reference_is_marked_whole() -> None:
    template = parse_template("${{ jobs.fetch.outputs[0] }}")
    assert isinstance(template, Template)
    assert template.whole == Reference("jobs", "fetch", "outputs", (0,))


def test_interpolated_template_keeps_literal_parts_in_order() -> None:
    template = parse_template("Hi ${{vars.name}}, from ${{ env.USER }}!")
    assert isinstance(template, Template)
    assert template.whole is None
    assert template.parts == (
        "Hi ",
        Reference("vars", "name"),
        ", from ",
        Reference("env", "USER"),
        "!",
    )
    assert template.placeholder == "Hi ${{ vars.name }}, from ${{ env.USER }}!"


def test_escaped_open_is_literal() -> None:
    assert parse_template("price: $${{ not a ref }}") == "price: ${{ not a ref }}"
    template = parse_template("$${{ x }} and ${{ vars.y }}")
    assert isinstance(template, Template)
    assert template.parts == ("${{ x }} and ", Reference("vars", "y"))
    # shown again, the literal keeps its escape so it would load the same way
    assert template.placeholder == "$${{ x }} and ${{ vars.y }}"


def test_unclosed_reference_is_an_error_with_offset() -> None:
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_template("abc ${{ vars.x")
    assert "unclosed '${{'" in caught.value.message
    assert caught.value.offset == 4
