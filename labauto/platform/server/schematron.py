"""PTB's Schematron rules for DCCs, run by a real Schematron engine: SchXslt on Saxon-HE.

PTB publishes business rules for DCC 3.3.0 as ``dcc.sch`` (beside the schemas,
``schema/dcc.sch``): an XSLT 2 Schematron (``tokenize``, ``matches``, ``some ... satisfies``).
:class:`RuleBook` compiles it ONCE — SchXslt 1.x (the copy bundled with PTB's ``dcclib``)
turns ``dcc.sch`` into an XSLT stylesheet, Saxon-HE (``saxonche``) compiles that into an
executable — and then runs the executable on each document.  SchXslt's compact SVRL mode
(``schxslt.svrl.compact``) leaves out the fired-rule and active-pattern records, which no one
reads and which cost a third of the run time.

Outcome, as Schematron defines it: an ``sch:assert`` that fails or an ``sch:report`` that fires
is a finding with the rule's ``role``; ``error`` (or no role) refuses the document, ``warning``
is reported and does not, ``information`` is dropped.  A pattern fires only the first rule whose
context matches a node (the point where the hand-written subset this module replaces was wrong).

The executable is lean (:func:`lean_stylesheet`): SchXslt's compiled stylesheet builds a
bookkeeping element for every rule that fires on every node (``schxslt:rule``, a
``schxslt:pattern`` per pattern, a ``schxslt:document``) and then regroups the findings by
pattern in a second pass; for a 25 kB DCC that bookkeeping is 40 % of Saxon's run time.  The
lean stylesheet has the same templates, the same matches, tests, ``next-match`` chains and
findings (less those of role ``information``, which are never reported: they are not built),
writes the findings straight into the SVRL output (each tagged with its pattern), and
:meth:`RuleBook.check` puts them in SchXslt's order again (by pattern, then as they fired).  The
rules are PTB's, unchanged; a test compares the lean stylesheet's findings with SchXslt's
stylesheet's on every rule case.  If a SchXslt version compiles to another shape, the stylesheet
is used as SchXslt wrote it (:attr:`RuleBook.lean` is then False).

Rules follow the version the document declares (:data:`RULES_BY_VERSION`): ``dcc.sch`` is
written for 3.3.0 and applies to every 3.3.x document; PTB publishes no rules for earlier
versions, so for those the report says so and only the XSD applies.

What the rules see: the document WITHOUT its ``ds:Signature``.  The signature is checked by the
signature stage (cryptographically, which is stricter than any rule); PTB's rules are written
for DCC content, and a generic rule (an "empty element" report, say) would otherwise fire on
``ds:CanonicalizationMethod`` and its siblings — empty by definition of XMLDSig — in every
signed DCC.  Removing the signature (the last child of the root, allowed there since 3.2.0)
leaves exactly what an enveloped signature covers.
"""
from __future__ import annotations

import importlib.util
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

DS_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"
# (major, minor) of a schemaVersion -> PTB's Schematron file in the schema folder
RULES_BY_VERSION: dict[tuple[int, int], str] = {(3, 3): "dcc.sch"}
NO_RULES = "no Schematron rules published for this version"
_DROPPED_ROLES = ("information", "info")      # findings of these roles are not reported
_STEP = re.compile(r"/(@)?(?:Q\{([^}]*)\})?([^/\[\]]+)(?:\[(\d+)\])?")


@dataclass(frozen=True)
class Finding:
    """One failed assert or fired report: its role, PTB's message, where (line, XPath)."""

    role: str
    message: str
    location: str
    line: int | None = None

    def text(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message

    def json(self) -> dict:
        return {"role": self.role, "message": self.message, "line": self.line,
                "location": self.location}


@dataclass
class RulesReport:
    """The ``rules`` stage: which rules applied, and their errors and warnings."""

    version: str
    rules: str | None                   # e.g. "dcc.sch (PTB, for DCC 3.3.0)"; None: none apply
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return self.rules is not None

    @property
    def note(self) -> str:
        return self.rules if self.applied else f"{NO_RULES} ({self.version}): XSD only"


class RuleBook:
    """PTB's Schematron files of a schema folder, each compiled once, run under a lock (one
    Saxon processor per process; its executables are not shared between threads unguarded)."""

    def __init__(self, schema_dir: Path | str, *, lean: bool = True) -> None:
        self.schema_dir = Path(schema_dir)
        self._lock = threading.Lock()
        self._proc = None
        self._executables: dict[str, object] = {}
        self._pattern_order: dict[str, dict[str, int]] = {}
        self.lean = lean
        for name in sorted(set(RULES_BY_VERSION.values())):
            if (self.schema_dir / name).is_file():
                self._executables[name] = self._compile(self.schema_dir / name, name)

    def _compile(self, sch: Path, name: str):
        from saxonche import PySaxonApiError, PySaxonProcessor

        if self._proc is None:
            self._proc = PySaxonProcessor(license=False)
        xslt = self._proc.new_xslt30_processor()
        try:
            stylesheet = schxslt_compile(self._proc, xslt, sch)
            if self.lean:
                made = lean_stylesheet(stylesheet)
                if made is None:
                    self.lean = False      # an unknown SchXslt shape: run it as compiled
                else:
                    stylesheet, self._pattern_order[name] = made
            return xslt.compile_stylesheet(stylesheet_text=stylesheet)
        except PySaxonApiError as exc:
            raise RuntimeError(f"cannot compile the Schematron {sch}: {exc}") from exc

    def rules_for(self, version: str) -> str | None:
        """The Schematron file that applies to a document of ``version`` (None: none)."""
        parts = version.split(".")
        try:
            key = (int(parts[0]), int(parts[1]))
        except (IndexError, ValueError):
            return None
        name = RULES_BY_VERSION.get(key)
        return name if name in self._executables else None

    def check(self, root: etree._Element, version: str) -> RulesReport:
        """Run the rules for ``version`` on ``root`` (its ds:Signature left out)."""
        name = self.rules_for(version)
        if name is None:
            return RulesReport(version, None)
        report = RulesReport(version, f"{name} (PTB's rules for DCC {version.rsplit('.', 1)[0]}.x)")
        text = _without_signature(root)
        from saxonche import PySaxonApiError

        with self._lock:
            try:
                svrl = self._executables[name].transform_to_string(
                    xdm_node=self._proc.parse_xml(xml_text=text))
            except PySaxonApiError as exc:
                report.errors.append(Finding("error", f"the Schematron engine failed: {exc}", "/"))
                return report
        found = etree.fromstring(svrl.encode()).iter(SVRL + "failed-assert", SVRL + "successful-report")
        order = self._pattern_order.get(name)
        if order is not None:        # SchXslt's order: by pattern, then as they fired (a stable sort)
            found = sorted(found, key=lambda el: order[el.get(PATTERN_ATTRIBUTE)])
        for el in found:
            role = (el.get("role") or "error").lower()
            if role in _DROPPED_ROLES:
                continue
            location = el.get("location") or ""
            finding = Finding(role, " ".join((el.findtext(SVRL + "text") or "").split()), location,
                              _line(root, location))
            (report.warnings if role == "warning" else report.errors).append(finding)
        return report


SCHXSLT = "https://doi.org/10.5281/zenodo.1495494"
XSL = "http://www.w3.org/1999/XSL/Transform"
PATTERN_ATTRIBUTE = "pattern"        # on each finding of the lean stylesheet: its pattern's id


def schxslt_compile(proc, xslt, sch: Path) -> str:
    """The XSLT stylesheet SchXslt compiles from the Schematron file ``sch`` (compact SVRL), with
    Saxon processor ``proc`` and its XSLT processor ``xslt``."""
    schxslt = schxslt_dir()
    xslt.set_cwd(str(schxslt))
    compiler = xslt.compile_stylesheet(stylesheet_file=str(schxslt / "compile-for-svrl.xsl"))
    compiler.set_parameter("schxslt.svrl.compact", proc.make_boolean_value(True))
    return compiler.transform_to_string(xdm_node=proc.parse_xml(xml_file_name=str(sch)))


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
    x, sx = f"{{{XSL}}}", f"{{{SCHXSLT}}}"
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
    findings = (f"{SVRL}failed-assert", f"{SVRL}successful-report")
    for finding in list(root.iter(*findings)):
        # an information-role finding is never reported (RuleBook.check drops it): its test is
        # not evaluated and it is not built (its xsl:if holds nothing else).  The rule stays:
        # it still takes its nodes from the later rules of its pattern.
        test = finding.getparent()
        if (finding.get("role") or "").lower() in _DROPPED_ROLES and test.tag == f"{x}if" and len(test) == 1:
            test.getparent().remove(test)
    for rule in list(root.iter(f"{sx}rule")):
        pattern = rule.get("pattern")
        if pattern not in order or set(rule.attrib) != {"pattern"} or (rule.text or "").strip() \
                or any((c.tail or "").strip() for c in rule):
            return None              # text in a rule record would be output: not SchXslt 1.x
        for finding in rule.iter(*findings):
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


def _without_signature(root: etree._Element) -> str:
    """The document as text with its top-level ds:Signature left out (the tree is restored)."""
    sigs = [(root.index(s), s) for s in root.findall(DS_SIGNATURE)]
    for _, sig in sigs:
        root.remove(sig)       # keeps sig.tail with sig: the text around it is unchanged
    try:
        return etree.tostring(root, encoding="unicode")
    finally:
        for i, sig in sigs:
            root.insert(i, sig)


def _line(root: etree._Element, location: str) -> int | None:
    """The source line of the element an SVRL location (``/Q{ns}name[n]/...[/@attr]``) names."""
    el = None
    for m in _STEP.finditer(location):
        attribute, ns, local, index = m.groups()
        if attribute:
            break
        tag = f"{{{ns}}}{local}" if ns else local
        if el is None:
            if root.tag != tag:
                return None
            el = root
            continue
        matches = [c for c in el if c.tag == tag]
        n = int(index or 1)
        if n > len(matches):
            break
        el = matches[n - 1]
    return el.sourceline if el is not None else None
