"""`FunctionSchema`: what sievefile knows about one version of one function, as stored on disk."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from runner.manifest.model import FunctionRef

#: Bumped when the layout of a cached schema document changes.
DOCUMENT_FORMAT = 1


def canonical_json(value: Any) -> str:
    """The one JSON spelling of a value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pretty_json(value: Any) -> str:
    """Stable, diff-friendly JSON for files in git: sorted keys, 2-space indent, final newline."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


_CONTRACT_KEYS = ("format", "function", "version", "inputs", "input_order", "outputs")


@dataclass(frozen=True)
class OutputSpec:
    """One declared output of a function (outputs are recorded, not validated)."""

    name: str
    type: str
    description: str = ""


@dataclass(frozen=True)
class FunctionSchema:
    """The JSON Schema of a function version's inputs, plus what `schemas show` prints.

    `inputs` is a JSON Schema 2020-12 object schema. `input_order` keeps the signature order
    (the schema's `properties` are sorted on disk). `warnings` lists what derivation could not
    understand, such as unknown type strings.
    """

    owner: str
    name: str
    version: str
    inputs: dict[str, Any]
    input_order: tuple[str, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    description: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def ref(self) -> FunctionRef:
        """The pinned reference `owner/name:version` for this schema."""
        return FunctionRef(self.owner, self.name, self.version)

    @cached_property
    def input_defaults(self) -> dict[str, Any]:
        """The inputs whose default value is known (a pickled default is not), by name."""
        properties = self.inputs.get("properties") or {}
        return {
            name: spec["default"]
            for name, spec in properties.items()
            if isinstance(spec, dict) and "default" in spec
        }

    def to_document(self) -> dict[str, Any]:
        """The JSON document written to the cache (and hashed for the lock file)."""
        return {
            "format": DOCUMENT_FORMAT,
            "function": self.slug,
            "version": self.version,
            "description": self.description,
            "inputs": self.inputs,
            "input_order": list(self.input_order),
            "outputs": [
                {"name": out.name, "type": out.type, "description": out.description}
                for out in self.outputs
            ],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> FunctionSchema:
        """Inverse of `to_document`; KeyError/TypeError/ValueError on a malformed document."""
        if document.get("format") != DOCUMENT_FORMAT:
            raise ValueError(f"unsupported schema document format {document.get('format')!r}")
        owner, _, name = str(document["function"]).partition("/")
        inputs = document["inputs"]
        if not isinstance(inputs, dict):
            raise TypeError("'inputs' is not an object")
        return cls(
            owner=owner,
            name=name,
            version=str(document["version"]),
            inputs=inputs,
            input_order=tuple(document.get("input_order", ())),
            outputs=tuple(
                OutputSpec(str(out["name"]), str(out["type"]), str(out.get("description", "")))
                for out in document.get("outputs", ())
            ),
            description=str(document.get("description", "")),
            warnings=tuple(str(w) for w in document.get("warnings", ())),
        )

    @cached_property
    def digest(self) -> str:
        """sha256 (hex) of the schema's contract: the lock file's `schema_sha256`.

        It covers the function, version, input schema, input order and outputs: what decides
        which inputs are valid. The function's description and derivation warnings are left
        out, so rewording them is not drift.
        """
        document = self.to_document()
        contract = {key: document[key] for key in _CONTRACT_KEYS}
        return hashlib.sha256(canonical_json(contract).encode()).hexdigest()

    @property
    def properties(self) -> dict[str, Any]:
        props = self.inputs.get("properties", {})
        return props if isinstance(props, dict) else {}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.inputs.get("required", ()))

    def ordered_input_names(self) -> list[str]:
        """Input names in signature order, then any others alphabetically."""
        seen = [name for name in self.input_order if name in self.properties]
        return seen + sorted(set(self.properties) - set(seen))
