"""Admission of a submitted DCC, stage by stage, and the facts the platform keeps from it.

Stages (each failure names its stage; the API returns it as ``stage``):
``well-formed`` (safe parse: no entities resolved, no DTD, no network), ``schema`` (the DCC
XSD of the document's ``schemaVersion``, 3.1.0 - 3.3.0, from the configured schema
directory laid out as ``vX.Y.Z/dcc.xsd``; 3.1.x without its signature, see
:meth:`SchemaRegistry.validate`), ``schematron`` (PTB's Schematron rules for the document's
version on a real engine, see :func:`check_rules`), ``signature`` (the enveloped XML signature verifies
against the certificate it embeds) and — in :mod:`publishing` — ``signer`` (that certificate is
one registered for the publishing lab).
"""
from __future__ import annotations

import copy
import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from labauto.certificate.dcc_xml import DCC_NS, DCC_ROOT, collapsed_text as _text, read_identity
from labauto.certificate.signing import DS_NS, SignatureError, VerifiedSignature, parse_xml, verify_dcc
from labauto.platform.server.schematron import RuleBook, RulesReport, default_processes

NS = {"dcc": DCC_NS}
MIN_VERSION, MAX_VERSION = (3, 1, 0), (3, 3, 0)
SIGNATURE_IN_SCHEMA = (3, 2, 0)
_DS_SIGNATURE = f"{{{DS_NS}}}Signature"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def _version(text: str) -> tuple[int, ...] | None:
    """``"3.3.0"`` as ``(3, 3, 0)``; None if it is not three dot-separated numbers."""
    m = _VERSION_RE.match(text)
    return tuple(map(int, m.groups())) if m else None


class AdmissionError(ValueError):
    """The document is refused at ``stage`` for the reason in the message."""

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(detail)
        self.stage, self.detail = stage, detail


_SCHEMAS: dict[Path, etree.XMLSchema] = {}
_SCHEMA_LOCK = threading.Lock()
_RULEBOOKS: dict[tuple[Path, int], RuleBook] = {}    # (folder, worker processes)


class SchemaRegistry:
    """Compiled DCC schemas by version, loaded once per process and used under a lock
    (an lxml ``XMLSchema`` keeps its error log on the object), and PTB's Schematron rules of
    the same folder (:attr:`rules`, compiled once per process when the registry is made).

    ``any_version``: accept every version the folder has a schema for (verification of any
    DCC); by default only the versions the platform stores (3.1.0 - 3.3.0).
    ``rule_processes``: the RuleBook's worker processes (default
    :func:`~labauto.platform.server.schematron.default_processes`; 0: in this process); registries
    of one folder and layout share one RuleBook, and so its workers.  ``rules``: a RuleBook of
    the caller's to use instead (an admission worker's own, compiled in its process)."""

    def __init__(self, schema_dir: Path | str, *, any_version: bool = False,
                 rule_processes: int | None = None, rules: RuleBook | None = None) -> None:
        self.schema_dir = Path(schema_dir)
        self.any_version = any_version
        self._by_version: dict[str, etree.XMLSchema] = {}       # used under _SCHEMA_LOCK
        if not self.schema_dir.is_dir():
            raise FileNotFoundError(f"DCC schema directory {self.schema_dir} does not exist "
                                    "(expected vX.Y.Z/dcc.xsd inside)")
        if rules is not None:
            self.rules = rules
            return
        folder = self.schema_dir.resolve()
        key = (folder, default_processes() if rule_processes is None else rule_processes)
        with _SCHEMA_LOCK:
            if key not in _RULEBOOKS:
                _RULEBOOKS[key] = RuleBook(folder, processes=key[1])
            self.rules = _RULEBOOKS[key]

    def _accepts(self, v: tuple[int, ...]) -> bool:
        return self.any_version or MIN_VERSION <= v <= MAX_VERSION

    def supported_versions(self) -> list[str]:
        out = []
        for d in sorted(self.schema_dir.glob("v*/dcc.xsd"), key=lambda d: _version(d.parent.name[1:]) or ()):
            v = _version(d.parent.name[1:])
            if v and self._accepts(v):
                out.append(d.parent.name[1:])
        return out

    def _schema(self, version: str) -> etree.XMLSchema:
        schema = self._by_version.get(version)     # no path resolution per document
        if schema is not None:
            return schema
        path = (self.schema_dir / f"v{version}" / "dcc.xsd").resolve()
        schema = _SCHEMAS.get(path)
        if schema is None:
            if not path.exists():
                raise AdmissionError("schema", f"no schema for DCC version {version} in {self.schema_dir} "
                                     f"(supported: {', '.join(self.supported_versions()) or 'none'})")
            schema = etree.XMLSchema(etree.parse(str(path)))
            _SCHEMAS[path] = schema
        self._by_version[version] = schema
        return schema

    def validate(self, root: etree._Element) -> str:
        """Validate against the schema the document names; return its schemaVersion.

        DCC 3.2.0 added ``ds:Signature`` to the schema (the last child of the root).  A 3.1.x
        document is validated without its signature — the part the enveloped signature covers.
        """
        version = root.get("schemaVersion")
        if version is None:
            raise AdmissionError("schema", "the root element has no schemaVersion attribute")
        v = _version(version)
        if not v or not self._accepts(v):
            accepted = ("the versions of the schema folder: " + ", ".join(self.supported_versions())
                        if self.any_version else "the platform accepts DCC 3.1.0 to 3.3.0")
            raise AdmissionError("schema", f"DCC schemaVersion {version!r} is not supported; {accepted}")
        target = root
        if v < SIGNATURE_IN_SCHEMA and root.find(_DS_SIGNATURE) is not None:
            target = copy.deepcopy(root)
            for sig in target.findall(_DS_SIGNATURE):
                target.remove(sig)
        with _SCHEMA_LOCK:
            schema = self._schema(version)
            ok = schema.validate(target)
            errors = [f"line {e.line}: {e.message}" for e in list(schema.error_log)[:5]]
        if not ok:
            raise AdmissionError("schema", f"not valid against the DCC {version} schema: "
                                 + "; ".join(errors))
        return version


def parse_well_formed(xml: bytes) -> etree._Element:
    """The safe parse of :func:`~labauto.certificate.signing.parse_xml` (no entities, no DTD,
    no network; a DOCTYPE is refused) and a DCC root element."""
    if not xml.strip():
        raise AdmissionError("well-formed", "the dcc file is empty")
    try:
        root = parse_xml(xml)
    except SignatureError as exc:
        raise AdmissionError("well-formed", str(exc)) from exc
    if root.tag != DCC_ROOT:
        raise AdmissionError("schema", f"the root element is {root.tag}, not "
                             "dcc:digitalCalibrationCertificate")
    return root


@dataclass
class Reference:
    """A reference standard's certificate named in the DCC (traceability link)."""
    referral_id: str
    procedure: str
    value: str


@dataclass
class DccFacts:
    certificate_id: str
    schema_version: str
    item_name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    identifications: list[tuple[str, str]] = field(default_factory=list)
    receipt_date: dt.date | None = None
    begin_date: dt.date | None = None
    end_date: dt.date | None = None
    issue_date: dt.date | None = None
    type_of_change: str | None = None
    replaced_id: str | None = None
    measurands: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)


def _content(el: etree._Element | None) -> str | None:
    """The English (else first) dcc:content of a textType element."""
    if el is None:
        return None
    contents = el.findall("dcc:content", NS)
    for c in contents:
        if c.get("lang") == "en":
            return _text(c)
    return _text(contents[0]) if contents else None


def _date(el: etree._Element | None) -> dt.date | None:
    t = _text(el)
    return dt.date.fromisoformat(t[:10]) if t else None


def extract_facts(root: etree._Element, schema_version: str) -> DccFacts:
    """The certificate id, item, dates, amendment, measurands and references of a DCC."""
    ident = read_identity(root)
    f = DccFacts(certificate_id=ident.certificate_id, schema_version=schema_version,
                 type_of_change=ident.type_of_change, replaced_id=ident.replaces)
    core = root.find("dcc:administrativeData/dcc:coreData", NS)
    f.receipt_date = _date(core.find("dcc:receiptDate", NS))
    f.begin_date = _date(core.find("dcc:beginPerformanceDate", NS))
    f.end_date = _date(core.find("dcc:endPerformanceDate", NS))
    f.issue_date = _date(core.find("dcc:issueDate", NS))
    items = root.findall("dcc:administrativeData/dcc:items/dcc:item", NS)
    if items:
        item = items[0]
        f.item_name = _content(item.find("dcc:name", NS))
        f.manufacturer = _content(item.find("dcc:manufacturer/dcc:name", NS))
        f.model = _text(item.find("dcc:model", NS))
    for item in items:
        for ident in item.findall("dcc:identifications/dcc:identification", NS):
            issuer, value = _text(ident.find("dcc:issuer", NS)), _text(ident.find("dcc:value", NS))
            if value:
                f.identifications.append((issuer or "other", value[:255]))
                if f.serial is None and issuer == "manufacturer":
                    f.serial = value[:255]
    if f.serial is None and f.identifications:
        f.serial = f.identifications[0][1]
    names: dict[str, None] = {}
    for mr in root.findall("dcc:measurementResults/dcc:measurementResult", NS):
        for q in mr.iterfind(".//dcc:results//dcc:quantity", NS):
            n = _content(q.find("dcc:name", NS))
            if n:
                names[n.lower()[:255]] = None
            for rt in (q.get("refType") or "").split():
                names[rt.lower()[:255]] = None
        for res in mr.iterfind("dcc:results/dcc:result", NS):
            n = _content(res.find("dcc:name", NS))
            if n:
                names[n.lower()[:255]] = None
        for c in mr.iterfind("dcc:measuringEquipments/dcc:measuringEquipment/dcc:certificate", NS):
            rid = _text(c.find("dcc:referralID", NS))
            if rid:
                f.references.append(Reference(rid[:255], (_text(c.find("dcc:procedure", NS)) or "")[:64],
                                              (_text(c.find("dcc:value", NS)) or "").lower()[:128]))
    f.measurands = list(names)
    return f


@dataclass
class Admitted:
    root: etree._Element
    facts: DccFacts
    signature: VerifiedSignature


def check_rules(root: etree._Element, version: str, schemas: SchemaRegistry) -> RulesReport:
    """The ``schematron`` stage: PTB's Schematron rules for ``version`` on a real engine
    (:mod:`labauto.platform.server.schematron`); an error-role finding refuses the document,
    warnings are returned."""
    report = schemas.rules.check(root, version)
    if report.errors:
        more = f" (and {len(report.errors) - 3} more)" if len(report.errors) > 3 else ""
        raise AdmissionError("schematron", "breaks PTB's DCC rules: "
                             + "; ".join(f.text() for f in report.errors[:3]) + more)
    return report


def admit(xml: bytes, schemas: SchemaRegistry) -> Admitted:
    """Run the well-formed, schema, Schematron and signature stages; return the facts."""
    root = parse_well_formed(xml)
    version = schemas.validate(root)
    check_rules(root, version, schemas)
    try:
        sig = verify_dcc(root)
    except SignatureError as exc:
        raise AdmissionError("signature", str(exc)) from exc
    # facts come from what the signature covers, so nothing unsigned can slip into the record
    return Admitted(root, extract_facts(sig.signed_root, version), sig)
