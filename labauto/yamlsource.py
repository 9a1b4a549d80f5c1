"""YAML loading that remembers where every value came from (file and line).

Data files written by people (procedures, instrument descriptions, model files) must fail with
the file and line of the mistake; plain ``yaml.safe_load`` forgets positions.  :func:`load`
returns the data and a :class:`SourceMap` from key paths (``("points", 3, "nominal")``) to
1-based line numbers.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labauto.errors import SourceError

PathKey = tuple[Any, ...]


def iso_date(value: Any) -> dt.date:
    """A YAML date (or datetime), or text YYYY-MM-DD, as a date; ValueError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@dataclass
class SourceMap:
    path: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, key_path: PathKey) -> int | None:
        """Line of ``key_path``, or of its nearest ancestor that has one."""
        kp = tuple(key_path)
        while kp:
            if kp in self.lines:
                return self.lines[kp]
            kp = kp[:-1]
        return self.lines.get((), None)

    def error(self, key_path: PathKey, reason: str) -> SourceError:
        return SourceError(self.path, self.line(key_path), reason)

    def date(self, key_path: PathKey, value: Any) -> dt.date:
        """``value`` (a YAML date, or text YYYY-MM-DD) found at ``key_path`` as a date; a
        :class:`SourceError` naming the file, the line and the key otherwise."""
        try:
            return iso_date(value)
        except ValueError:
            raise self.error(key_path, f"{key_path[-1]}: {value!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class SourceDocument:
    data: Any
    source: SourceMap
    sha256: str          # hash of the file's bytes as read
    text: str


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines)


# libyaml's parser when PyYAML was built with it (about 10x faster); same nodes and marks
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that refuses duplicate keys (a silent override is a classic procedure bug)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first at line {seen[key]})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node):  # type: ignore[override]
        """An unquoted date that does not exist (``2026-02-30``) is an error at its line, not
        a ValueError without a position."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid date: {exc}", node.start_mark) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                 _UniqueKeyLoader.construct_yaml_timestamp)


def loads(text: str, path: str = "<string>") -> SourceDocument:
    try:
        loader = _UniqueKeyLoader(text)
        try:     # parse once: the node tree gives the line numbers and the data
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SourceError(path, line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise SourceError(path, None, f"not valid YAML: {exc}") from None
    lines: dict[PathKey, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return SourceDocument(data, SourceMap(path, lines),
                          hashlib.sha256(text.encode("utf-8")).hexdigest(), text)


def load(path: str | Path) -> SourceDocument:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SourceError(str(p), None, f"cannot read file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(str(p), None, f"not UTF-8 text: {exc}") from None
    doc = loads(text, str(p))
    return SourceDocument(doc.data, doc.source, hashlib.sha256(raw).hexdigest(), text)
