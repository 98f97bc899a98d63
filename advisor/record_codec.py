"""The one dict conversion of the result records, and their JSON Schema, read off the type hints.

Every record of :mod:`advisor.schema` is a frozen dataclass deriving from :class:`Record`. Its
JSON keys are its fields, in declaration order, so ``to_dict`` needs no hand-written key list
that could drift from the class; ``from_dict`` reads a saved dict back and refuses a missing,
unknown or mistyped key with the path to it; :func:`json_schema` turns the same fields and
hints into a JSON Schema (draft 2020-12) with ``required`` and ``additionalProperties: false``,
so the schema, the reader and the writer cannot disagree.

A field's metadata can change how it reads in JSON: ``OMIT_NONE`` drops the key when the value
is None (keys added later, e.g. a CSV's encoding), ``OPT_IN`` keeps the field out of the
generic dict (the caller adds it on request, e.g. timings), ``ADDED`` marks a key added after
its record's release (absent from a result saved before it, it reads as the field's default),
``EXTRA`` adds JSON Schema keywords.
A record whose JSON form is not its fields (:class:`advisor.schema.Reason`) overrides
:meth:`Record.json_fields`, :meth:`Record.json_values` and :meth:`Record.from_json_values`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

#: Field metadata: the key is left out of the JSON when the value is None.
OMIT_NONE = "omit_none"
#: Field metadata: the field is not part of the generic dict; the record adds it on request.
OPT_IN = "opt_in"
#: Field metadata: a key added after its record first shipped; a saved result without it reads
#: as the field's default, so results saved by an earlier release still load.
ADDED = "added"
#: Field metadata: extra JSON Schema keywords for the field (a pattern, a minimum...).
EXTRA = "json_schema"

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

RecordT = TypeVar("RecordT", bound="Record")


class SchemaError(ValueError):
    """A dict that does not match a record: the path to the bad key and what was wrong."""


@dataclass(frozen=True)
class JsonField:
    """One key of a record's JSON form."""

    key: str
    hint: Any
    omit_none: bool = False        # the key is absent when the value is None
    opt_in: bool = False           # absent from the generic dict; the record adds it on request
    derived: bool = False          # computed from other fields: written, checked, never read
    added: bool = False            # absent in an older result: the field's default
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def required(self) -> bool:
        return not (self.omit_none or self.opt_in or self.added)


class Record:
    """Base of the result records: one dict conversion, driven by the fields' type hints."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @classmethod
    def json_fields(cls) -> tuple[JsonField, ...]:
        """The JSON keys, in order, with their type hints (the dataclass fields by default)."""
        return _dataclass_json_fields(cls)

    def json_values(self) -> dict[str, Any]:
        """Key -> value, before encoding (the fields' values by default)."""
        return {item.key: getattr(self, item.key) for item in self.json_fields()}

    @classmethod
    def from_json_values(cls: type[RecordT], values: dict[str, Any]) -> RecordT:
        """The record from decoded values (derived keys already left out)."""
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe dict: keys in field order, records and tuples turned into dicts and lists."""
        specs = {item.key: item for item in self.json_fields()}
        return {key: encode(value) for key, value in self.json_values().items()
                if not specs[key].opt_in and not (specs[key].omit_none and value is None)}

    @classmethod
    def from_dict(cls: type[RecordT], payload: Any, path: str = "") -> RecordT:
        """The record a dict describes; SchemaError on a missing, unknown or mistyped key."""
        where = path or cls.__name__
        if not isinstance(payload, dict):
            raise SchemaError(f"{where}: expected an object, got {_kind(payload)}")
        specs = cls.json_fields()
        unknown = [key for key in payload if key not in {item.key for item in specs}]
        if unknown:
            raise SchemaError(f"{where}: unknown key {unknown[0]!r}")
        values: dict[str, Any] = {}
        for item in specs:
            if item.key not in payload:
                if item.required:
                    raise SchemaError(f"{where}: missing key {item.key!r}")
                if item.omit_none:
                    values[item.key] = None           # an absent key means no value
                continue                              # added later: the field's default
            value = decode(item.hint, payload[item.key], f"{where}.{item.key}")
            if not item.derived:
                values[item.key] = value
        record = cls.from_json_values(values)
        for item in specs:
            if item.derived and item.key in payload and payload[item.key] != getattr(record, item.key):
                raise SchemaError(f"{where}.{item.key}: {payload[item.key]!r} does not match "
                                  f"the record ({getattr(record, item.key)!r})")
        return record


_FIELDS: dict[type, tuple[JsonField, ...]] = {}     # per record class: its hints are read once


def _dataclass_json_fields(cls: type) -> tuple[JsonField, ...]:
    if cls in _FIELDS:
        return _FIELDS[cls]
    hints = typing.get_type_hints(cls)
    _FIELDS[cls] = tuple(
        JsonField(key=item.name, hint=hints[item.name], omit_none=bool(item.metadata.get(OMIT_NONE)),
                  opt_in=bool(item.metadata.get(OPT_IN)), derived=not item.init,
                  added=bool(item.metadata.get(ADDED)),
                  extra=dict(item.metadata.get(EXTRA, {})))
        for item in dataclasses.fields(cls))
    return _FIELDS[cls]


# ----- values ---------------------------------------------------------------------------------

def encode(value: Any) -> Any:
    """A record's value as JSON data: records to dicts, tuples to lists; numbers untouched."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    return value


_SCALARS: dict[type, tuple[str, tuple[type, ...]]] = {
    str: ("string", (str,)), int: ("integer", (int,)), float: ("number", (int, float)),
    bool: ("boolean", (bool,)), type(None): ("null", (type(None),)),
}


def decode(hint: Any, value: Any, path: str) -> Any:
    """``value`` read as ``hint``: tuples for tuples, records for records; numbers kept as read
    (an int stays an int where a float is allowed, so the dict dumps to the same bytes)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value, path)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        for option in options:
            try:
                return decode(option, value, path)
            except SchemaError:
                continue
        raise SchemaError(f"{path}: expected {' or '.join(_name(option) for option in options)}, "
                          f"got {_kind(value)}")
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise SchemaError(f"{path}: expected an array, got {_kind(value)}")
        item_hint = typing.get_args(hint)[0]
        items = [decode(item_hint, item, f"{path}[{index}]") for index, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(f"{path}: expected an object, got {_kind(value)}")
        item_hint = typing.get_args(hint)[1]
        return {key: decode(item_hint, item, f"{path}.{key}") for key, item in value.items()}
    if hint in _SCALARS:
        accepted = _SCALARS[hint][1]
        if isinstance(value, accepted) and not (isinstance(value, bool) and hint is not bool):
            return value
        raise SchemaError(f"{path}: expected {_name(hint)}, got {_kind(value)}")
    raise TypeError(f"no JSON form for the type hint {hint!r}")   # a record declared badly


def _name(hint: Any) -> str:
    if hint in _SCALARS:
        return _SCALARS[hint][0]
    if isinstance(hint, type) and issubclass(hint, Record):
        return "an object"
    return "an array" if typing.get_origin(hint) in (tuple, list) else str(hint)


def _kind(value: Any) -> str:
    for kind in (bool, type(None), int, float, str):       # bool before int: True is an int
        if isinstance(value, kind):
            return _SCALARS[kind][0]
    containers: dict[type, str] = {dict: "an object", list: "an array"}
    return containers.get(type(value), type(value).__name__)


# ----- the JSON Schema ------------------------------------------------------------------------

def json_schema(root: type[Record], *, title: str, schema_id: str | None = None) -> dict[str, Any]:
    """The JSON Schema of ``root``: every record in ``$defs``, strict objects, required keys."""
    definitions: dict[str, Any] = {}
    body = _record_schema(root, definitions)
    head = {"$schema": JSON_SCHEMA_DIALECT, **({"$id": schema_id} if schema_id else {}),
            "title": title}
    return {**head, **body, "$defs": dict(sorted(definitions.items()))}


def _record_schema(cls: type[Record], definitions: dict[str, Any]) -> dict[str, Any]:
    properties = {item.key: {**_schema(item.hint, definitions), **item.extra}
                  for item in cls.json_fields()}
    return {"description": _summary(cls), "type": "object", "properties": properties,
            "required": [item.key for item in cls.json_fields() if item.required],
            "additionalProperties": False}


def _schema(hint: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if hint is Any:
        return {}
    if isinstance(hint, type) and issubclass(hint, Record):
        if hint.__name__ not in definitions:
            definitions[hint.__name__] = {}           # placeholder: records may nest themselves
            definitions[hint.__name__] = _record_schema(hint, definitions)
        return {"$ref": f"#/$defs/{hint.__name__}"}
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if all(option in _SCALARS for option in options):
            return {"type": [_SCALARS[option][0] for option in options]}
        return {"anyOf": [_schema(option, definitions) for option in options]}
    if origin in (tuple, list):
        return {"type": "array", "items": _schema(typing.get_args(hint)[0], definitions)}
    if origin is dict:
        return {"type": "object",
                "additionalProperties": _schema(typing.get_args(hint)[1], definitions)}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint][0]}
    raise TypeError(f"no JSON Schema for the type hint {hint!r}")


_ROLE = re.compile(r":[a-z]+:`([^`]+)`")


def _summary(cls: type) -> str:
    """The docstring's first paragraph as plain text (reST roles and double backticks dropped)."""
    text = " ".join((cls.__doc__ or cls.__name__).strip().split("\n\n")[0].split())
    return _ROLE.sub(r"\1", text).replace("``", "`")


# ----- the encoder ----------------------------------------------------------------------------

def _refuse(value: object) -> object:
    """JSON encoder fallback: refuse, rather than hide what cannot be serialised."""
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON: {value!r}")


def _check_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite number in the result: {value!r}")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_finite(item)


def dumps(payload: dict[str, Any], *, indent: int | None = 2) -> str:
    """The one JSON encoder: explicit, strict (no NaN, no str() fallback), stable."""
    _check_finite(payload)
    return json.dumps(payload, indent=indent, ensure_ascii=False, allow_nan=False,
                      default=_refuse) + "\n"
