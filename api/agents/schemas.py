"""The tools' JSON Schemas, read from the one contract (openapi.yaml): each input from the parameters of the REST
operation it mirrors (their descriptions, patterns and enums), each output from the contract's response schemas.

OpenAPI 3.0 schemas become JSON Schema 2020-12: `nullable` a "null" type, `example` `examples`, a `$ref` to
components/schemas one to `$defs` (outputs) or the schema itself inlined (inputs, which some clients read without
resolving references). A query parameter's form becomes its JSON form: a list parameter takes one string or an
array of them, `'true'`/`'false'` a boolean.
"""
from __future__ import annotations

import copy
import functools

import yaml

from ..dataset.about import ROOT

SPEC_PATH = ROOT / "openapi.yaml"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
_DROPPED = {"nullable", "example", "xml", "externalDocs", "discriminator", "deprecated", "readOnly", "writeOnly"}


@functools.lru_cache(maxsize=1)
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def _component(name: str) -> dict:
    return spec()["components"]["schemas"][name]


def convert(node, refs: set[str] | None) -> object:
    """One OpenAPI 3.0 schema as JSON Schema. refs None: references inlined; else each $ref'd name is added to refs
    and the reference points into $defs."""
    if isinstance(node, list):
        return [convert(n, refs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        said = {"description": node["description"]} if "description" in node else {}
        if refs is None:
            return {**convert(_component(name), None), **said}
        refs.add(name)
        return {"$ref": f"#/$defs/{name}", **said}
    out = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {name: convert(s, refs) for name, s in value.items()}
        elif key in ("items", "not", "additionalProperties", "allOf", "anyOf", "oneOf"):
            out[key] = convert(value, refs)
        else:
            out[key] = copy.deepcopy(value)
    if "example" in node:
        out["examples"] = [node["example"]]
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def output(properties: dict, required: list[str], description: str) -> dict:
    """An output schema: an object of properties (OpenAPI schemas, $refs allowed), with $defs of everything they
    reference, transitively."""
    refs: set[str] = set()
    body = {"type": "object", "description": description, "additionalProperties": False,
            "properties": {k: convert(v, refs) for k, v in properties.items()}, "required": required}
    defs, done = {}, set()
    while refs - done:
        name = sorted(refs - done)[0]
        done.add(name)
        defs[name] = convert(_component(name), refs)
    return {"$schema": DIALECT, **body, "$defs": dict(sorted(defs.items()))}


def component_output(name: str, extra: dict | None = None, extra_required: tuple = ()) -> dict:
    """The contract's schema `name` (an object) as an output, with extra properties."""
    schema = _component(name)
    return output({**schema["properties"], **(extra or {})}, [*schema["required"], *extra_required],
                  schema.get("description", name))


def _parameters(path: str) -> list[dict]:
    """The query parameters of GET path, each $ref resolved."""
    out = []
    for p in spec()["paths"][path]["get"].get("parameters", []):
        if "$ref" in p:
            p = spec()["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        if p["in"] == "query":
            out.append(p)
    return out


LIST_FORM = "One value, or an array of them (the REST API's repeated or comma-separated parameter)."


def _argument(param: dict) -> dict:
    """A query parameter as a tool argument's JSON Schema."""
    schema = convert(param["schema"], None)
    if schema.get("type") == "array":
        one = schema["items"]
        schema = {"anyOf": [one, {**schema, "minItems": 1}], "description": f"{param['description']} {LIST_FORM}"}
    elif schema.get("type") == "string" and schema.get("enum") == ["true", "false"]:
        schema = {"type": "boolean", "description": param["description"]}
    else:
        schema["description"] = param["description"]
    return schema


# The REST arguments that choose a representation (format=, a CSV's bom=): a tool's answer is JSON, so it takes neither.
REST_ONLY = ("format", "bom")


def tool_input(path: str, leave_out: tuple = REST_ONLY, extra: dict | None = None, required: tuple = (),
               widen: dict | None = None) -> dict:
    """The input schema of a tool that mirrors GET path: its query parameters but leave_out, then extra arguments;
    widen: argument -> another schema it may also be (year: an integer as well as "2025" or "2024..2025")."""
    props = {p["name"]: _argument(p) for p in _parameters(path) if p["name"] not in leave_out}
    props.update(extra or {})
    for name, alternative in (widen or {}).items():
        described = props[name]
        props[name] = {"anyOf": [{k: v for k, v in described.items() if k != "description"}, alternative],
                       "description": described["description"]}
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def field_schema(component: str, field: str, description: str) -> dict:
    """One property of a contract schema, inlined, as a tool argument."""
    return {**convert(_component(component)["properties"][field], None), "description": description}


def parameter_item(path: str, name: str, description: str) -> dict:
    """One value of a list parameter of GET path (a region, a kind), as a tool argument."""
    param = next(p for p in _parameters(path) if p["name"] == name)
    return {**convert(param["schema"]["items"], None), "description": description}
