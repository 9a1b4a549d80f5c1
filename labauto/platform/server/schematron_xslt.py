"""The XSLT that runs PTB's Schematron: SchXslt's compilation of ``dcc.sch`` and two automatic,
semantics-preserving rewrites of it (the rules, tests and messages stay PTB's, as SchXslt wrote
them).  :class:`~labauto.platform.server.schematron.RuleBook` uses them.

1. :func:`schxslt_compile`: SchXslt 1.x (bundled with PTB's ``dcclib``) turns ``dcc.sch`` into
   an XSLT stylesheet (compact SVRL).  That stylesheet walks every node of the document in one
   mode; on each node the matching rules of all patterns run as a ``next-match`` chain, a
   ``patterns-matched`` sequence carrying which patterns already fired (Schematron: the first
   matching rule of a pattern fires, the others of that pattern do not).
2. :func:`lean_stylesheet`: the same templates without SchXslt's report bookkeeping (a
   ``schxslt:rule`` element per fired rule, regrouped by pattern in a second pass); findings of
   role ``information`` (never reported) are not built.
3. :func:`pattern_mode_stylesheet`: one mode per pattern, applied only to the nodes a rule of that
   pattern can match, and regular-expression tests remembered by their input string:

   * Each rule template moves to the mode of its pattern with its match pattern, priority,
     variables and findings unchanged, without the ``patterns-matched`` bookkeeping and the
     ``next-match``: within a mode, XSLT runs the matching template of highest priority, and
     SchXslt gave the rules of a pattern descending priorities in document order, so that is the
     pattern's first matching rule, as before.
   * The pattern's mode is applied to the union of the nodes its rules match, ``//P`` for a
     relative path pattern ``P`` and ``P`` itself for an absolute one — the definition of what a
     pattern matches (XSLT 3.0, 5.5.3: N matches P if N is in ``root(N)//(P)``).  A union is in
     document order, the order of SchXslt's walk (an element, its attributes, its children), so
     the findings come out by pattern and then in that order: SchXslt's SVRL order.  The walk's
     fall-back templates, which only walked on, do nothing.  Only path patterns of names,
     ``*``, ``@``, kind tests and predicates are rewritten (no ``current()``); rule bodies that
     could see the walk (``position()``, ``last()``, ``apply-templates``, ``next-match``,
     ``xsl:number``, ``call-template``) are not — the stylesheet then stays lean.
   * ``matches(X, 'regex')`` in a test becomes a call of a ``cache="yes"`` function of
     ``X`` that returns ``matches($input, 'regex')``.  Its parameter takes ``X`` atomized
     (``xs:anyAtomicType*``: what ``fn:matches`` does first with its argument, and what lets the
     cache find an earlier equal value, where a node would be remembered by its identity), so
     ``fn:matches`` itself converts the value and raises the same error as before on a
     sequence of several items.  A document repeats its attribute values (labauto's
     DCC has 116 ``refType`` attributes, 21 distinct) and Saxon's backtracking regex engine
     takes ≈ 9 µs per value for PTB's list-spacing expression.

Each rewrite returns None when the stylesheet does not have the shape SchXslt 1.x gives it; the
caller then runs the previous stage's stylesheet.  Tests compare the findings of the stylesheet
in use with those of SchXslt's stylesheet as compiled on PTB's examples, labauto's DCCs and
mutated documents that fire every assert and report of ``dcc.sch``.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from lxml import etree

SCHXSLT = "https://doi.org/10.5281/zenodo.1495494"
XSL = "http://www.w3.org/1999/XSL/Transform"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"
PATTERN_ATTRIBUTE = "pattern"        # on each finding of the lean stylesheet: its pattern's id
DROPPED_ROLES = ("information", "info")      # findings of these roles are not reported
MEMO = "urn:labauto:schematron:memo"         # namespace of the remembered-regex functions

_X, _SX = f"{{{XSL}}}", f"{{{SCHXSLT}}}"
_FINDINGS = (f"{SVRL}failed-assert", f"{SVRL}successful-report")


def schxslt_compile(proc, xslt, sch: Path) -> str:
    """The XSLT stylesheet SchXslt compiles from the Schematron file ``sch`` (compact SVRL), with
    Saxon processor ``proc`` and its XSLT processor ``xslt``."""
    schxslt = schxslt_dir()
    xslt.set_cwd(str(schxslt))
    compiler = xslt.compile_stylesheet(stylesheet_file=str(schxslt / "compile-for-svrl.xsl"))
    compiler.set_parameter("schxslt.svrl.compact", proc.make_boolean_value(True))
    return compiler.transform_to_string(xdm_node=proc.parse_xml(xml_file_name=str(sch)))


def schxslt_dir() -> Path:
    """SchXslt's XSLT files as PTB's ``dcclib`` bundles them, found without importing ``dcclib``
    (its package import pulls in a JSON toolkit that creates a cache folder in the user's home)."""
    spec = importlib.util.find_spec("dcclib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("PTB's dcclib is not installed (pip install dcclib): it carries SchXslt, "
                           "which compiles dcc.sch")
    folder = Path(list(spec.submodule_search_locations)[0]) / "validation" / "schema" / "schxslt"
    if not (folder / "compile-for-svrl.xsl").is_file():
        raise RuntimeError(f"SchXslt's compile-for-svrl.xsl is not in {folder} (dcclib changed its layout?)")
    return folder


def lean_stylesheet(stylesheet: str) -> tuple[str, dict[str, int]] | None:
    """SchXslt's compiled stylesheet (compact SVRL) without its report bookkeeping, and the
    order of its patterns; None if the stylesheet does not have the shape SchXslt 1.x gives it.

    Changed: the entry template (``match="root()"``) writes ``svrl:schematron-output`` around
    the call of the named template that applies the rules, instead of collecting a
    ``schxslt:report`` and regrouping it; ``schxslt:document`` and each ``schxslt:rule``
    literal element are replaced by their content, the finding elements inside a rule getting a
    ``pattern`` attribute with the rule's pattern id; the (empty) ``schxslt:pattern`` records are
    dropped; the findings of role ``information`` (never reported) are not built; the output is
    not indented.  Nothing else: every template, match pattern, test,
    variable, ``next-match`` and finding stays as SchXslt wrote it."""
    x, sx = _X, _SX
    root = etree.fromstring(stylesheet.encode())
    entries = [t for t in root.findall(f"{x}template") if t.get("match") == "root()"]
    if len(entries) != 1:
        return None
    calls = entries[0].findall(f".//{x}call-template")
    outputs = entries[0].findall(f"{SVRL}schematron-output")
    if len(calls) != 1 or len(outputs) != 1:
        return None
    named = [t for t in root.findall(f"{x}template") if t.get("name") == calls[0].get("name")]
    if len(named) != 1:
        return None
    documents = named[0].findall(f"{sx}document")
    if len(documents) != 1:
        return None
    order: dict[str, int] = {}
    for pattern in documents[0].findall(f"{sx}pattern"):
        # a pattern record: its documents attribute and an empty for-each (compact SVRL), no more
        if any(c.tag not in (f"{x}if", f"{x}for-each") for c in pattern) or \
                any(len(c) for c in pattern.findall(f"{x}for-each")):
            return None
        order[pattern.get("id")] = len(order)
        documents[0].remove(pattern)
    for finding in list(root.iter(*_FINDINGS)):
        # an information-role finding is never reported (RuleBook.check drops it): its test is
        # not evaluated and it is not built (its xsl:if holds nothing else).  The rule stays:
        # it still takes its nodes from the later rules of its pattern.
        test = finding.getparent()
        if (finding.get("role") or "").lower() in DROPPED_ROLES and test.tag == f"{x}if" and len(test) == 1:
            test.getparent().remove(test)
    for rule in list(root.iter(f"{sx}rule")):
        pattern = rule.get("pattern")
        if pattern not in order or set(rule.attrib) != {"pattern"} or (rule.text or "").strip() \
                or any((c.tail or "").strip() for c in rule):
            return None              # text in a rule record would be output: not SchXslt 1.x
        for finding in rule.iter(*_FINDINGS):
            finding.set(PATTERN_ATTRIBUTE, pattern)
        _unwrap(rule)
    _unwrap(documents[0])
    entry = entries[0]
    for child in list(entry):
        entry.remove(child)
    out = etree.SubElement(entry, f"{SVRL}schematron-output", nsmap={"svrl": SVRL[1:-1]})
    etree.SubElement(out, f"{x}call-template", name=calls[0].get("name"))
    if any(el.tag.startswith(sx) for el in root.iter() if isinstance(el.tag, str)):
        return None                  # a bookkeeping element this function does not know
    for output in root.findall(f"{x}output"):
        output.set("indent", "no")
    return etree.tostring(root, encoding="unicode"), order


def _unwrap(el: etree._Element) -> None:
    """Replace ``el`` by its children (its text and tail are whitespace in a stylesheet)."""
    parent = el.getparent()
    index = parent.index(el)
    for i, child in enumerate(list(el)):
        parent.insert(index + i, child)
    parent.remove(el)


# ---- one mode per pattern ----------------------------------------------------------------

_PATTERNS_MATCHED = "schxslt:patterns-matched"
_ALREADY_FIRED = re.compile(r"^\$schxslt:patterns-matched\[\. = '([^']+)'\]$")
_NAME = r"[A-Za-z_][\w.\-]*"
_NAME_TEST = rf"(?:\*|{_NAME}(?::(?:\*|{_NAME}))?|\*:{_NAME})"
_STEP = rf"(?:@?{_NAME_TEST}|text\(\)|node\(\)|comment\(\))"
_PATH_PATTERN = re.compile(rf"^(?:/|(?://?)?{_STEP}(?://?{_STEP})*)$")
_SEES_THE_WALK = ("apply-templates", "apply-imports", "next-match", "number", "call-template")
_POSITIONAL = re.compile(r"\b(?:position|last)\s*\(")


def pattern_mode_stylesheet(lean: str, order: dict[str, int]) -> str | None:
    """The lean stylesheet (:func:`lean_stylesheet`, patterns in ``order``) with one mode per
    pattern applied only to its rules' nodes, and remembered regular expressions (the module's
    docstring says why the findings stay the same); None if it does not have SchXslt 1.x's shape
    or a rule could see the difference."""
    x = _X
    root = etree.fromstring(lean.encode())
    templates = root.findall(f"{x}template")
    named = [t for t in templates if t.get("name") is not None]
    if len(named) != 1 or len(named[0]) != 1 or named[0][0].tag != f"{x}apply-templates" \
            or named[0][0].get("select") != "root()" or len(named[0][0]):
        return None
    walk_mode = named[0][0].get("mode")
    fallbacks = [t for t in templates if t.get("mode") == "#all"]
    if sorted(t.get("match") for t in fallbacks) != ["*", "/", "text() | @*"] or \
            any(c.tag != f"{x}apply-templates" for t in fallbacks for c in t):
        return None
    rules = [t for t in templates if t.get("mode") == walk_mode]
    others = [t for t in templates if t not in rules and t not in fallbacks and t not in named]
    if [t.get("match") for t in others] != ["root()"] or others[0].get("mode") is not None:
        return None
    selects: dict[str, list[str]] = {}
    priorities: dict[str, set[str]] = {}
    for template in rules:
        pattern = _rule_to_pattern_mode(template)
        if pattern is None or pattern not in order:
            return None
        select = _nodes_matching(template.get("match") or "")
        if select is None or template.get("priority") in priorities.setdefault(pattern, set()):
            return None
        priorities[pattern].add(template.get("priority"))
        if select not in selects.setdefault(pattern, []):
            selects[pattern].append(select)
    for template in fallbacks:             # the walk is gone: a node no rule matches is left alone
        for child in list(template):
            template.remove(child)
    call = named[0]
    call.remove(call[0])
    for pattern in sorted(selects, key=order.__getitem__):
        etree.SubElement(call, f"{x}apply-templates", mode=pattern, select=" | ".join(selects[pattern]))
    _remember_regex_matches(root, rules)
    text = etree.tostring(root, encoding="unicode")
    return None if _PATTERNS_MATCHED in text else text     # a use of the bookkeeping it removed


def _rule_to_pattern_mode(template: etree._Element) -> str | None:
    """Turn one of SchXslt's rule templates (param, variables, a choose between "pattern already
    fired: next-match" and "findings, then next-match") into a template of its pattern's mode
    (the variables and the findings); its pattern's id, or None if it has another shape."""
    x = _X
    children = list(template)
    if len(children) < 2 or children[0].tag != f"{x}param" or children[0].get("name") != _PATTERNS_MATCHED \
            or children[-1].tag != f"{x}choose" or any(c.tag != f"{x}variable" for c in children[1:-1]):
        return None
    choose = children[-1]
    if len(choose) != 2 or choose[0].tag != f"{x}when" or choose[1].tag != f"{x}otherwise":
        return None
    fired, otherwise = choose
    match = _ALREADY_FIRED.match(fired.get("test") or "")
    if match is None or len(fired) != 1 or fired[0].tag != f"{x}next-match" \
            or len(otherwise) == 0 or otherwise[-1].tag != f"{x}next-match":
        return None
    otherwise.remove(otherwise[-1])
    body = children[1:-1] + list(otherwise)
    for el in body:
        for node in el.iter():
            if not isinstance(node.tag, str):
                continue
            if node.tag.startswith(x) and node.tag[len(x):] in _SEES_THE_WALK:
                return None
            if any(_POSITIONAL.search(v) for v in node.attrib.values()):
                return None
    template.remove(children[0])
    at = template.index(choose)
    template.remove(choose)
    for i, el in enumerate(otherwise):
        template.insert(at + i, el)
    template.set("mode", match.group(1))
    return match.group(1)


def _nodes_matching(pattern: str) -> str | None:
    """An expression selecting, from any node of the document, exactly the nodes that match the
    path pattern ``pattern``: ``//P`` (P relative) or ``P`` (absolute); None for another kind."""
    skeleton, predicates = _split_predicates(pattern.strip())
    if skeleton is None or not _PATH_PATTERN.match(skeleton) or any("current(" in p for p in predicates):
        return None
    p = pattern.strip()
    return p if p.startswith("/") else f"//{p}"


def _split_predicates(pattern: str) -> tuple[str | None, list[str]]:
    """The pattern without its ``[...]`` predicates, and the predicates (string literals in them
    respected); (None, []) if the brackets do not balance."""
    skeleton, predicates, depth, quote, current = [], [], 0, None, []
    for c in pattern:
        if depth:
            current.append(c)
            if quote:
                quote = None if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if not depth:
                    predicates.append("".join(current[:-1]))
                    current = []
        elif c == "[":
            depth = 1
        elif c == "]":
            return None, []
        else:
            skeleton.append(c)
    if depth or quote:
        return None, []
    return "".join(skeleton), predicates


_MATCHES_CALL = re.compile(r"matches\(\s*(?P<input>\.|text\(\)|@[\w.\-:]+|\$[\w.\-:]+)\s*,\s*"
                           r"(?P<regex>'[^']*'|\"[^\"]*\")\s*\)")
_NAME_CHAR = re.compile(r"[\w.\-:]")


def _remember_regex_matches(root: etree._Element, rules: list[etree._Element]) -> None:
    """Each ``matches(X, 'literal')`` in a test of a rule becomes ``memo:matches-N(X)``, a
    ``cache="yes"`` function returning ``matches($input, 'literal')`` (one per literal)."""
    x = _X
    literals: dict[str, int] = {}
    for template in rules:
        for test in template.iter(f"{x}if"):
            test.set("test", _memoised(test.get("test") or "", literals))
    for literal, n in literals.items():
        function = etree.SubElement(root, f"{x}function", {
            "name": f"Q{{{MEMO}}}matches-{n}", "as": "Q{http://www.w3.org/2001/XMLSchema}boolean",
            "cache": "yes", "version": "3.0"})
        etree.SubElement(function, f"{x}param", {"name": "input",
                                                  "as": "Q{http://www.w3.org/2001/XMLSchema}anyAtomicType*"})
        etree.SubElement(function, f"{x}sequence", select=f"matches($input, {literal})")


def _memoised(expression: str, literals: dict[str, int]) -> str:
    out, i, quote = [], 0, None
    while i < len(expression):
        c = expression[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        else:
            call = _MATCHES_CALL.match(expression, i)
            if call and (i == 0 or not _NAME_CHAR.match(expression[i - 1])):
                n = literals.setdefault(call.group("regex"), len(literals))
                out.append(f"Q{{{MEMO}}}matches-{n}({call.group('input')})")
                i = call.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)
