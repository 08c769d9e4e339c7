"""Secrets: masking in text and in data."""

from __future__ import annotations

from runner.secrets import Secrets


def test_mask_replaces_every_occurrence_longest_first() -> None:
    secrets = Secrets(["abcd", "abcdefg", ""])
    assert len(secrets) == 2
    assert secrets.mask("key=abcdefg and abcd!") == "key=*** and ***!"


def test_values_too_short_to_hide_anything_are_not_masked() -> None:
    secrets = Secrets(["e", "25", "eu1"])
    assert len(secrets) == 0
    assert secrets.mask("finished on port 25 in eu1") == "finished on port 25 in eu1"


def test_mask_value_walks_data_and_keys() -> None:
    secrets = Secrets(["s3cr3t"])
    data = {"env": {"KEY": "s3cr3t"}, "list": ["x-s3cr3t-y", 3], "s3cr3t": True}
    assert secrets.mask_value(data) == {
        "env": {"KEY": "***"},
        "list": ["x-***-y", 3],
        "***": True,
    }


def test_repr_never_shows_values() -> None:
    secrets = Secrets()
    secrets.update(["hunter2"])
    assert "hunter2" not in repr(secrets)
    assert "hunter2" in secrets
    assert Secrets().mask_value({"a": "hunter2"}) == {"a": "hunter2"}


def test_a_secret_is_masked_where_it_shows_escaped() -> None:
    # A quote, backslash or tab in a value is escaped in JSON and TOML text (a summary, a run
    # record) and in a repr (an error message): it slipped past the plain comparison.
    import json

    import tomli_w

    value = 'quo"te\\se\tcret-99'
    secrets = Secrets([value])
    for text in (
        json.dumps({"value": value}),
        json.dumps({"value": value}, ensure_ascii=True),
        tomli_w.dumps({"value": value}),
        f"bad header {value!r}",
        f"https://hooks.example/x?t={__import__('urllib.parse').parse.quote(value, safe='')}",
    ):
        masked = secrets.mask(text)
        assert "cret-99" not in masked, masked
    assert list(secrets) == [value]  # what plugins are given: the value itself only
