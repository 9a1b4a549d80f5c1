"""Change a YAML file written by people without losing their comments and layout.

A lab keeps some data files in git (the equipment register: one file per item) and a command
changes them (a calibration recorded, a quarantine).  Rewriting such a file from its data drops
every comment and reorders what the person wrote; :func:`edit` instead applies the difference
between the data before and after the change to the file's round-trip tree (ruamel.yaml), so a
value that did not change keeps its line, its quoting and its comment, and ``git diff`` shows
only the lines that changed.

``old`` and ``new`` are the canonical data (what the program would write, e.g.
``Item.to_dict()``) of the file before and after the change; where ``old`` equals ``new`` the
file's own text is kept even when it spells the value differently (an unquoted date, a default
written out or left out).
"""
from __future__ import annotations

import io
import json
from difflib import SequenceMatcher
from typing import Any


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _apply_map(node: Any, old: dict, new: dict) -> Any:
    for key in [k for k in node if k in old and k not in new]:
        del node[key]
    previous = None
    for key, value in new.items():
        if key in old and old[key] == value:
            pass                                   # unchanged: the file's text stays
        elif key in node:
            node[key] = _apply(node[key], old.get(key), value)
        else:                                      # a new key: after the one before it
            keys = list(node.keys())
            at = keys.index(previous) + 1 if previous in keys else len(keys)
            node.insert(at, key, value)
        if key in node:
            previous = key
    return node


def _apply_seq(node: Any, old: list, new: list) -> Any:
    ops = SequenceMatcher(a=[_key(v) for v in old], b=[_key(v) for v in new],
                          autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(ops):     # from the end: indices stay valid
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            for i, j in zip(range(i1, i2), range(j1, j2)):
                node[i] = _apply(node[i], old[i], new[j])
            continue
        del node[i1:i2]
        for k, value in enumerate(new[j1:j2]):
            node.insert(i1 + k, value)
    return node


def _apply(node: Any, old: Any, new: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap) and isinstance(old, dict) and isinstance(new, dict):
        return _apply_map(node, old, new)
    if (isinstance(node, CommentedSeq) and isinstance(old, list) and isinstance(new, list)
            and len(node) == len(old)):
        return _apply_seq(node, old, new)
    return new


def edit(text: str, old: Any, new: Any) -> str:
    """``text`` (a YAML document whose data is ``old``) changed to hold ``new``, keeping its
    comments, order, quoting and indentation wherever the data did not change."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.util import load_yaml_guess_indent

    _, indent, offset = load_yaml_guess_indent(text)
    indent = indent or 2
    offset = offset or 0
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096                              # never re-wrap a line the person wrote
    yaml.indent(mapping=indent, sequence=offset + 2, offset=offset)
    try:
        tree = _apply(yaml.load(text), old, new)
        out = io.StringIO()
        yaml.dump(tree, out)
    except YAMLError as exc:
        raise ValueError(f"the YAML text cannot be edited in place: {exc}") from None
    return out.getvalue()


__all__ = ["edit"]
