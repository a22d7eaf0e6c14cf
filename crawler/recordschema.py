"""JSON Schema of the records, generated from the item dataclasses.

``python -m crawler schema`` writes ``crawler/schema/record.schema.json``,
``duplicate.schema.json`` and ``event.schema.json`` (a revisit's change event);
a test fails when the shipped files differ from what the dataclasses give, so
the schema cannot drift from the code.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from crawler.items import ArticleItem, ChangeEvent, DuplicateItem

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"

# Constraints the type annotations cannot carry.
_PATTERNS = {
    "id": r"^[0-9a-f]{16}$",
    "content_hash": r"^[0-9a-f]{40}$",
    "url": r"^(https?|file)://",
    "published_at": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$",
    "fetched_at": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$",
    "previous_hash": r"^[0-9a-f]{40}$",
    "seen_at": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$",
}
_ENUMS = {
    "original_script": ["simplified", "traditional", "mixed"],
    "match": ["content_hash", "url", "minhash"],
    "published_precision": ["second", "minute", "day"],
    "event": ["removed", "modified", "restored", "unreachable", "blocked"],
}


def _field_comments(cls: type) -> dict[str, str]:
    """Field descriptions: the trailing comments of the dataclass fields (one source of truth)."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        for match in re.finditer(r"^    (\w+): [^#\n]+#\s*(.+)$", inspect.getsource(klass), re.M):
            comments[match.group(1)] = match.group(2).strip()
    return comments


def _schema_for(cls: type, title: str, description: str) -> dict[str, Any]:
    schema = TypeAdapter(cls).json_schema()
    comments = _field_comments(cls)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://zhengfa-crawler.invalid/schema/{title}.schema.json",
        **schema,
    }
    schema["title"] = title
    schema["description"] = description
    schema["additionalProperties"] = False
    props = schema["properties"]
    # Every field is always written (dataclass items export all fields).
    schema["required"] = list(props)
    for name, pattern in _PATTERNS.items():
        target = props.get(name)
        if target is None:
            continue
        if "anyOf" in target:
            for option in target["anyOf"]:
                if option.get("type") == "string":
                    option["pattern"] = pattern
        else:
            target["pattern"] = pattern
    for name, values in _ENUMS.items():
        target = props.get(name)
        if target is None:
            continue
        for option in target.get("anyOf", [target]):  # a nullable field: on its string type
            if option.get("type") == "string":
                option["enum"] = values
    for name, prop in props.items():
        if prop.get("type") == "array":
            prop["items"] = {"type": "string", "minLength": 1}
        prop.pop("default", None)
        prop.pop("title", None)
        if name in comments:
            prop["description"] = comments[name]
        if name == "similarity":
            prop.update({"minimum": 0, "maximum": 1})
    return schema


def schemas() -> dict[str, dict[str, Any]]:
    return {
        "record": _schema_for(
            ArticleItem, "record", "One article: a line of OUTPUT_DIR/<site>/articles.jsonl."
        ),
        "duplicate": _schema_for(
            DuplicateItem,
            "duplicate",
            "A reprint: a line of OUTPUT_DIR/<site>/duplicates.jsonl.",
        ),
        "event": _schema_for(
            ChangeEvent,
            "event",
            "A change a revisit found: a line of OUTPUT_DIR/<site>/events.jsonl.",
        ),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
