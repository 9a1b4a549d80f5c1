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

    def __init__(self, schema_dir: Path | str) -> None:
        self.schema_dir = Path(schema_dir)
        self._lock = threading.Lock()
        self._proc = None
        self._executables: dict[str, object] = {}
        for name in sorted(set(RULES_BY_VERSION.values())):
            if (self.schema_dir / name).is_file():
                self._executables[name] = self._compile(self.schema_dir / name)

    def _compile(self, sch: Path):
        from saxonche import PySaxonApiError, PySaxonProcessor

        if self._proc is None:
            self._proc = PySaxonProcessor(license=False)
        xslt = self._proc.new_xslt30_processor()
        schxslt = schxslt_dir()
        try:
            xslt.set_cwd(str(schxslt))
            compiler = xslt.compile_stylesheet(stylesheet_file=str(schxslt / "compile-for-svrl.xsl"))
            compiler.set_parameter("schxslt.svrl.compact", self._proc.make_boolean_value(True))
            stylesheet = compiler.transform_to_string(xdm_node=self._proc.parse_xml(xml_file_name=str(sch)))
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
        for el in etree.fromstring(svrl.encode()):
            if el.tag not in (SVRL + "failed-assert", SVRL + "successful-report"):
                continue
            role = (el.get("role") or "error").lower()
            if role in ("information", "info"):
                continue
            location = el.get("location") or ""
            finding = Finding(role, " ".join((el.findtext(SVRL + "text") or "").split()), location,
                              _line(root, location))
            (report.warnings if role == "warning" else report.errors).append(finding)
        return report


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
