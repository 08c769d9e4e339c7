"""Secrets: masking in text and in data."""

from __future__ import annotations

from runner.secrets import Secrets


def test_mask_replaces_every_occurrence_longest_first() -> None:
    secrets = Secrets(["abc", "abcdef", ""])
    assert len(secrets) == 2
    assert secrets.mask("key=abcdef and abc!") == "key=*** and ***!"


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
