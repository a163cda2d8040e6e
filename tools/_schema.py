"""Make a published JSON schema small without changing what it accepts.

Every tool definition is sent into every conversation's context, so its size is paid on each
turn. Pydantic's schemas carry words no client needs: a generated `title` on every property,
`"default": null` / `false` on every optional field or flag, and `anyOf: [X, {"type": "null"}]`
for each `X | None`. `compact_schema` drops the first two (annotations only, they validate
nothing) and writes the third as `X` with `"null"` added to its type (or, for an enum, to the
enum alone): the same values pass. An explicit `"additionalProperties": true` stays: it tells
the client's model that keys beyond the listed ones are welcome.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compact_schema"]

# Keywords whose value maps names to subschemas (the names themselves are data, kept as they are).
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_NULL = {"type": "null"}
# Ranges of result fields: the result model enforces them before sending; the client only reads.
_OUTPUT_ONLY_DOCS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def compact_schema(schema: Any, *, output: bool = False) -> Any:
    """A copy of `schema` without generated titles and null defaults, with nullable types folded.

    `output=True` (a tool's output schema) also drops `required`, value ranges and the fields'
    descriptions: every field of our results is always present and in range (the server validates
    each result against its model before sending), and what the fields mean is said once, in the
    tool's description and the result model's own description, rather than on every property.
    """
    if isinstance(schema, list):
        return [compact_schema(item, output=output) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and (value is None or value is False):
            continue
        if output and (key in _OUTPUT_ONLY_DOCS or (key == "required" and isinstance(value, list))):
            continue
        if key == "properties" and output and isinstance(value, dict):
            out[key] = {name: _without_description(compact_schema(sub, output=output)) for name, sub in value.items()}
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: compact_schema(sub, output=output) for name, sub in value.items()}
        else:
            out[key] = compact_schema(value, output=output)
    return _fold_nullable(out)


def _without_description(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: v for k, v in schema.items() if k != "description"}
    return schema


def _fold_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not (isinstance(options, list) and len(options) == 2 and _NULL in options):
        return schema
    (other,) = [o for o in options if o != _NULL]
    kind = other.get("type")
    if not isinstance(kind, str) or kind == "null" or "anyOf" in other or "$ref" in other:
        return schema
    folded = {k: v for k, v in schema.items() if k != "anyOf"}
    folded.update(other)
    if isinstance(other.get("enum"), list):  # the enum alone says it all
        folded.pop("type")
        folded["enum"] = [*other["enum"], None]
    else:
        folded["type"] = [kind, "null"]
    return folded
