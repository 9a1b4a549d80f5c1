"""PTB Digital Calibration Certificate (DCC, schemaVersion 3.3.0) from a CalibrationResult.

The document is built unsigned; ``labauto.certificate.signing`` appends an enveloped
``ds:Signature`` as last child of the root.  Units are D-SI strings from ``labauto.units.to_dsi``.

Reading a DCC is shared here too: :func:`safe_parser` (no entities, DTDs or network) and
:func:`read_identity` (its id and the id it amends), used by signing, the outbox and the platform.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pint
from lxml import etree

import labauto
from labauto.certificate.statements import (RELATES_ONLY, adjustment_statement,
                                           propagated_interval_statement, tur_statement)
from labauto.certificate.wording import Wording, in_words, wording
from labauto.units import Q_, to_dsi, from_dsi

if TYPE_CHECKING:   # annotations only: readers of DCCs need not import the results model
    from labauto.results import CalibrationResult, Equipment, FunctionResults, Party, PointResult

DCC_NS = "https://ptb.de/dcc"
DCC_ROOT = f"{{{DCC_NS}}}digitalCalibrationCertificate"
SI_NS = "https://ptb.de/si"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"dcc": DCC_NS, "si": SI_NS, "xsi": XSI_NS}
SCHEMA_VERSION = "3.3.0"

_CONFORMITY = {"pass": "pass", "fail": "fail", "conditional pass": "conditionalPass",
               "conditional fail": "conditionalFail"}


def _d(tag: str) -> str:
    return f"{{{DCC_NS}}}{tag}"


def _s(tag: str) -> str:
    return f"{{{SI_NS}}}{tag}"


def _sub(parent, tag: str, text: str | None = None, **attrib) -> etree._Element:
    el = etree.SubElement(parent, tag, **attrib)
    if text is not None:
        el.text = text
    return el


def _text(parent, tag: str, text: str, lang: str | None = None) -> etree._Element:
    el = _sub(parent, _d(tag))
    c = _sub(el, _d("content"), text)
    if lang:
        c.set("lang", lang)
    return el


def _num(x: float) -> str:
    return repr(float(x))


def _real(parent, q: pint.Quantity, U: pint.Quantity | None = None, k: float = 2.0,
          p: float = 0.95) -> etree._Element:
    real = _sub(parent, _s("real"))
    _sub(real, _s("value"), _num(q.magnitude))
    _sub(real, _s("unit"), to_dsi(q.units))
    if U is not None:
        mu = _sub(_sub(real, _s("measurementUncertaintyUnivariate")), _s("expandedMU"))
        _sub(mu, _s("valueExpandedMU"), _num(U.to(q.units).magnitude))
        _sub(mu, _s("coverageFactor"), _num(k))
        _sub(mu, _s("coverageProbability"), _num(p))
    return real


def _quantity(parent, ref: str, name: str, q: pint.Quantity, **unc) -> etree._Element:
    el = _sub(parent, _d("quantity"), refType=ref)
    _text(el, "name", name, "en")
    _real(el, q, **unc)
    return el


def _contact(parent, tag: str, party: Party) -> etree._Element:
    c = _sub(parent, _d(tag))
    _text(c, "name", party.name)
    if party.email:
        _sub(c, _d("eMail"), party.email)
    if party.address:
        loc = _sub(c, _d("location"))
        _text(loc, "further", party.address)
    return c


def _identification(parent, issuer: str, value: str, name: str) -> None:
    ident = _sub(parent, _d("identification"))
    _sub(ident, _d("issuer"), issuer)
    _sub(ident, _d("value"), value)
    _text(ident, "name", name, "en")


def _date(iso: str) -> str:
    return iso[:10]


def _software(parent) -> None:
    """labauto as a ``dcc:software`` of ``parent`` (a softwareListType: dccSoftware, usedSoftware)."""
    sw = _sub(parent, _d("software"))
    _text(sw, "name", "labauto")
    _sub(sw, _d("release"), f"v{labauto.__version__}")   # PTB's release format: a letter first
    _sub(sw, _d("type"), "application")



def lab_people_and_customer(adm, r) -> None:
    """The calibration laboratory, the responsible persons (the authoriser signs; the technician
    who performed the calibration when another person) and the customer, in a DCC's
    administrativeData — the same for every kind of result (electrical, temperature)."""
    lab = _sub(adm, _d("calibrationLaboratory"))
    if r.laboratory.identifier:
        _sub(lab, _d("calibrationLaboratoryCode"), r.laboratory.identifier)
    _contact(lab, "contact", r.laboratory)

    rps = _sub(adm, _d("respPersons"))
    rp = _sub(rps, _d("respPerson"))
    _contact(rp, "person", r.authoriser)
    _sub(rp, _d("role"), "authoriser")
    _sub(rp, _d("mainSigner"), "true")
    if r.performed_by and r.performed_by != r.authoriser.name:
        rp = _sub(rps, _d("respPerson"))
        _text(_sub(rp, _d("person")), "name", r.performed_by)
        _sub(rp, _d("role"), "performed calibration")

    _contact(adm, "customer", r.customer)


def administrative_core(root, r, *, amends: str | None = None):
    """A DCC's administrativeData with its dccSoftware and coreData (country, languages, id,
    run id, receipt, performance and issue dates; the certificate it amends, if any), the
    same for every kind of result; returns the administrativeData element."""
    adm = _sub(root, _d("administrativeData"))
    _software(_sub(adm, _d("dccSoftware")))

    core = _sub(adm, _d("coreData"))
    _sub(core, _d("countryCodeISO3166_1"), r.country)
    _sub(core, _d("usedLangCodeISO639_1"), r.language)
    _sub(core, _d("mandatoryLangCodeISO639_1"), r.language)
    _sub(core, _d("uniqueIdentifier"), r.certificate_id)
    ids = _sub(core, _d("identifications"))
    _identification(ids, "calibrationLaboratory", r.run_id, "Run id")
    if r.receipt_date:
        _sub(core, _d("receiptDate"), _date(r.receipt_date))
    _sub(core, _d("beginPerformanceDate"), _date(r.calibration_date))
    _sub(core, _d("endPerformanceDate"), _date(r.calibration_end))
    _sub(core, _d("performanceLocation"), "laboratory")
    _sub(core, _d("issueDate"), _date(r.issue_date))
    if amends:
        ras = _sub(core, _d("reportAmendedSubstituted"))
        _sub(ras, _d("typeOfChange"), "amended")
        _sub(ras, _d("replacedUniqueIdentifier"), amends)
    return adm


def _admin(root, r: CalibrationResult) -> None:
    adm = administrative_core(root, r, amends=r.amends)

    item = _sub(_sub(adm, _d("items")), _d("item"))
    _text(item, "name", f"{r.item.manufacturer} {r.item.model}", "en")
    man = _sub(item, _d("manufacturer"))
    _text(man, "name", r.item.manufacturer)
    _sub(item, _d("model"), r.item.model)
    iids = _sub(item, _d("identifications"))
    _identification(iids, "manufacturer", r.item.serial_number, "Serial no.")

    lab_people_and_customer(adm, r)

    st = _sub(adm, _d("statements"))
    s = _sub(st, _d("statement"), refType="basic_traceability")
    _text(s, "declaration", r.traceability, "en")
    s = _sub(st, _d("statement"), refType="basic_conformity")
    _sub(s, _d("norm"), r.decision_rule.reference)
    _sub(s, _d("reference"), r.decision_rule.name)
    _text(s, "declaration", in_words(r.decision_rule.description, r.measurement_model), "en")
    _sub(s, _d("conformity"), _CONFORMITY.get(r.overall_decision, "noPass")
         if r.overall_decision != "conditional" else
         ("conditionalPass" if all(p.decision in ("pass", "conditional pass") for p in r.final_points)
          else "conditionalFail"))
    s = _sub(st, _d("statement"), refType="basic_uncertainty")
    _sub(s, _d("norm"), "JCGM 100:2008 (GUM)")
    k = {p.coverage_factor for p in r.points + r.as_left_points}
    pr = {p.coverage_probability for p in r.points + r.as_left_points}
    propagated = propagated_interval_statement(r)
    _text(s, "declaration",
          "The reported expanded uncertainty of measurement is the standard uncertainty "
          "multiplied by the coverage factor k stated for each point (k = "
          + ", ".join(f"{x:g}" for x in sorted(k)) + "), which corresponds to a coverage "
          "probability of approximately " + ", ".join(f"{100*x:g} %" for x in sorted(pr))
          + ". It was evaluated according to the GUM."
          + (" " + propagated if propagated else ""), "en")
    # ISO/IEC 17025 7.8.2.1 g) and l), 7.8.4.1 d): no basic_ refType exists for these
    s = _sub(st, _d("statement"), refType="labauto_itemConditionOnReceipt")
    _text(s, "declaration", f"Condition of the item on receipt: {r.item_condition_statement}", "en")
    s = _sub(st, _d("statement"), refType="labauto_adjustment")
    _text(s, "declaration", adjustment_statement(r), "en")
    s = _sub(st, _d("statement"), refType="labauto_resultsRelateOnlyToItem")
    _text(s, "declaration", RELATES_ONLY, "en")
    low_tur = tur_statement(r)
    if low_tur:
        s = _sub(st, _d("statement"), refType="labauto_lowTestUncertaintyRatio")
        _text(s, "declaration", low_tur, "en")
    for remark in r.remarks:
        s = _sub(st, _d("statement"))
        _text(s, "declaration", remark, "en")


def _equipment(parent, e: Equipment) -> None:
    me = _sub(parent, _d("measuringEquipment"), refType="basic_normalUsed")
    _text(me, "name", f"{e.manufacturer} {e.model}", "en")
    if e.certificate_id and e.certificate_sha256:
        cert = _sub(me, _d("certificate"))
        _text(cert, "referral", f"Calibration certificate of {e.manufacturer} {e.model}"
              + (f" issued by {e.calibrated_by}" if e.calibrated_by else ""), "en")
        _sub(cert, _d("referralID"), e.certificate_id)
        _sub(cert, _d("procedure"), "SHA-256")
        _sub(cert, _d("value"), e.certificate_sha256)
    man = _sub(me, _d("manufacturer"))
    _text(man, "name", e.manufacturer)
    _sub(me, _d("model"), e.model)
    ids = _sub(me, _d("identifications"))
    _identification(ids, "manufacturer", e.serial_number, "Serial no.")
    if e.certificate_id and not e.certificate_sha256:
        _identification(ids, "calibrationLaboratory", e.certificate_id, "Calibration certificate")


_ENV_REF = {"temperature": "basic_temperature", "humidity": "basic_humidityRelative",
            "relative_humidity": "basic_humidityRelative"}


def _influence_conditions(mr, env: dict[str, Any]) -> None:
    """Ambient conditions: the range the environment logger observed, as PTB's examples state
    it (basic_temperatureMin/Max, with the logger's expanded uncertainty), with a description
    saying how they were recorded; "not recorded" is a statement, never a value."""
    ics = _sub(mr, _d("influenceConditions"))
    if "recorded" not in env:          # certificates issued before conditions were recorded
        for key, val in sorted(env.items()):
            ref = _ENV_REF.get(key, f"labauto_{key}")
            ic = _sub(ics, _d("influenceCondition"), refType=ref)
            _text(ic, "name", f"Ambient condition {key.replace('_', ' ')}", "en")
            unit = val.get("unit") or "dimensionless"
            unc = {} if val.get("uncertainty") is None else {"U": Q_(val["uncertainty"], unit)}
            _quantity(_sub(ic, _d("data")), ref, key.replace("_", " "), Q_(val["value"], unit), **unc)
        return
    if not env["recorded"]:
        ic = _sub(ics, _d("influenceCondition"), refType="basic_temperature")
        _text(ic, "name", "Ambient conditions", "en")
        _text(ic, "description", env["statement"], "en")
        _text(_sub(ic, _d("data")), "text", env["statement"], "en")
        return
    from labauto.conditions import ordered

    for key, q in ordered(env["quantities"]):
        ref = _ENV_REF.get(key, f"labauto_{key}")
        ic = _sub(ics, _d("influenceCondition"), refType=ref)
        label = key.replace("_", " ")
        _text(ic, "name", f"Ambient condition {label}", "en")
        lim = q.get("limits")
        within = "" if lim is None else (
            f" Limits of the laboratory: {lim['min']:g} to {lim['max']:g} ({q['unit']}): "
            + ("within." if q.get("within_limits") else "OUTSIDE the limits."))
        _text(ic, "description", env["statement"] + within, "en")
        data = _sub(ic, _d("data"))
        unc = {}
        if q.get("uncertainty") is not None:
            unc = {"U": Q_(q["uncertainty"], q["uncertainty_unit"]), "k": q["coverage_factor"]}
        for bound in ("min", "max"):
            value = Q_(q[bound], q["unit"])
            if not value._is_multiplicative:     # °C: stated in kelvin, as U is a difference
                value = value.to("K")
            _quantity(data, f"{ref}{bound.capitalize()}", f"{label} {bound}", value, **unc)


def _function_result(parent, f: FunctionResults, words: Wording) -> None:
    """One ``dcc:result`` per function (DCV, ACV, ...): its name and unit, then one ``dcc:list``
    per test point.  Every value is in a unit of the function's quantity (D-SI: \\volt,
    \\ampere, \\ohm, \\hertz with their prefixes); an AC point states its signal frequency."""
    res = _sub(parent, _d("result"), refType="basic_measuringResult")
    _text(res, "name", f"{f.name} ({f.function})", "en")
    _text(res, "description", f"{f.name} ({f.function}): {len(f.points)} test points, values in "
          f"units of {f.unit}" + (", each AC point at its signal frequency" if f.alternating else "")
          + f"; conformity of the function: {f.decision}.", "en")
    data = _sub(res, _d("data"))
    for p in f.points:
        _point(data, p, words)


def _point(parent, p: PointResult, words: Wording) -> None:
    lst = _sub(parent, _d("list"), refType="labauto_testPoint")
    _text(lst, "name", f"{p.point_id}: {p.function} {p.nominal:~P} (range {p.range:~P})"
          + (f" at {p.frequency:~P}" if p.frequency is not None else ""), "en")
    data = lst
    u = p.error.units
    unc = dict(U=p.expanded_uncertainty, k=p.coverage_factor, p=p.coverage_probability)
    _quantity(data, "basic_nominalValue", words.nominal, p.nominal)
    _quantity(data, "basic_referenceValue", "Reference value", p.reference)
    _quantity(data, "basic_measuredValue", words.readback if p.readbacks else words.mean, p.mean)
    if p.frequency is not None:
        _quantity(data, "labauto_signalFrequency", "Signal frequency", p.frequency)
    q = _quantity(data, "basic_measurementError", words.error, p.error, **unc)
    md = _sub(_sub(q, _d("measurementMetaData")), _d("metaData"), refType="basic_conformity")
    _text(md, "declaration", f"Conformity of {p.point_id} with the specification ± "
          f"{p.tolerance:~P}", "en")
    _sub(md, _d("conformity"), _CONFORMITY[p.decision])
    mdd = _sub(md, _d("data"))
    _quantity(mdd, "basic_toleranceLimitLower", "Lower tolerance limit", -p.tolerance.to(u))
    _quantity(mdd, "basic_toleranceLimitUpper", "Upper tolerance limit", p.tolerance.to(u))
    _quantity(mdd, "basic_acceptanceLimitLower", "Lower acceptance limit", -p.acceptance_limit.to(u))
    _quantity(mdd, "basic_acceptanceLimitUpper", "Upper acceptance limit", p.acceptance_limit.to(u))
    # JCGM 106:2012: the probability that the true error lies within the tolerance, and the
    # probability that the decision stated above is wrong (no basic_ refType exists for these)
    if p.conformance_probability is not None:
        _quantity(mdd, "labauto_conformanceProbability", "Conformance probability (JCGM 106:2012)",
                  Q_(p.conformance_probability, "dimensionless"))
    if p.specific_risk is not None:
        _quantity(mdd, "labauto_specificRisk", "Specific risk of the decision (JCGM 106:2012)",
                  Q_(p.specific_risk, "dimensionless"))


def build_dcc(result: CalibrationResult) -> bytes:
    """The unsigned DCC XML document (UTF-8 bytes) for ``result``."""
    r = result
    root = etree.Element(DCC_ROOT, nsmap=NSMAP)
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{DCC_NS} {DCC_NS}/v{SCHEMA_VERSION}/dcc.xsd")
    root.set("schemaVersion", SCHEMA_VERSION)
    _admin(root, r)
    mrs = _sub(root, _d("measurementResults"))
    if not r.as_left_points:
        _measurement_result(mrs, r, r.title, r.functions())
    else:            # ISO/IEC 17025 7.8.4.1: the results before and after the adjustment
        _measurement_result(mrs, r, f"{r.title} — as found (before adjustment)", r.functions())
        _measurement_result(mrs, r, f"{r.title} — as left (after adjustment)",
                            r.as_left_functions(), adjusted=True)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _measurement_result(parent, r: CalibrationResult, title: str, functions, *,
                        adjusted: bool = False) -> None:
    """One ``dcc:measurementResult``: methods, software, equipment, conditions, and one
    ``dcc:result`` per function; the as-left one also names the adjustment as a method."""
    mr = _sub(parent, _d("measurementResult"))
    _text(mr, "name", title, "en")
    um = _sub(mr, _d("usedMethods"))
    m = _sub(um, _d("usedMethod"), refType="basic_calibrationProcedure")
    _text(m, "name", f"{r.procedure.id} {r.procedure.title}", "en")
    _text(m, "description", f"Procedure {r.procedure.id} version {r.procedure.version}, "
          f"file {r.procedure.path}, SHA-256 {r.procedure.sha256}", "en")
    _sub(m, _d("reference"), f"{r.procedure.id} v{r.procedure.version} sha256:{r.procedure.sha256}")
    m = _sub(um, _d("usedMethod"), refType="basic_uncertainty")
    _text(m, "name", "Expanded uncertainty", "en")
    _sub(m, _d("norm"), "JCGM 100:2008")
    if adjusted:
        m = _sub(um, _d("usedMethod"), refType="labauto_adjustment")
        _text(m, "name", "Adjustment of the item", "en")
        _text(m, "description", adjustment_statement(r) + ". Adjusted at: " + "; ".join(
            f"{p['function']} range {p['range']['value']:g} {p['range']['unit']} at "
            f"{p['value']['value']:g} {p['value']['unit']}"
            for p in r.adjustment.get("points", ())) + ".", "en")
    # the software that drove the instruments and evaluated the results, for every result of
    # this measurementResult (PTB's dcc.sch warns when a result declares no usedSoftware)
    _software(_sub(mr, _d("usedSoftware")))
    mes = _sub(mr, _d("measuringEquipments"))
    for e in r.standards:
        _equipment(mes, e)
    if r.environment:
        _influence_conditions(mr, r.environment)
    results = _sub(mr, _d("results"))
    words = wording(r.measurement_model)
    for f in functions:
        _function_result(results, f, words)


# ------------------------------------------------------------------ reading

def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves no entities, loads no DTD and touches no network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=False)


def collapsed_text(el: etree._Element | None) -> str | None:
    """The element's text with whitespace runs collapsed to one space; None if absent or blank."""
    if el is None or el.text is None:
        return None
    return " ".join(el.text.split()) or None


@dataclass(frozen=True)
class DccIdentity:
    """A DCC's ``dcc:uniqueIdentifier`` ("" if it has none) and, when it declares
    ``dcc:reportAmendedSubstituted``, the id it replaces and the type of change."""

    certificate_id: str
    replaces: str | None
    type_of_change: str | None


def read_identity(root: etree._Element) -> DccIdentity:
    """The identity of a parsed DCC (``dcc:administrativeData/dcc:coreData``)."""
    core = root.find(f"{_d('administrativeData')}/{_d('coreData')}")
    if core is None:
        return DccIdentity("", None, None)
    ras = core.find(_d("reportAmendedSubstituted"))
    return DccIdentity(collapsed_text(core.find(_d("uniqueIdentifier"))) or "",
                       None if ras is None else collapsed_text(ras.find(_d("replacedUniqueIdentifier"))),
                       None if ras is None else collapsed_text(ras.find(_d("typeOfChange"))))


def _real_q(real) -> pint.Quantity:
    return Q_(float(real.findtext(_s("value"))), from_dsi(real.findtext(_s("unit"))))


def parse_dcc_summary(xml: bytes) -> dict[str, Any]:
    """Key content of a DCC: certificate id, item serial, the function of each result, and per
    point (a ``dcc:list`` of a result, or a result of its own as labauto wrote them before
    2026-12) name, function, nominal, error, U, k, p, decision, frequency."""
    root = etree.fromstring(xml, parser=safe_parser())
    ns = {"dcc": DCC_NS, "si": SI_NS}
    ident = read_identity(root)
    out: dict[str, Any] = {
        "certificate_id": ident.certificate_id or None,
        "item_serial": root.findtext(".//dcc:items/dcc:item/dcc:identifications/"
                                     "dcc:identification/dcc:value", namespaces=ns),
        "amends": ident.replaces,
        "functions": [],
        "points": [],
    }
    for result in root.iterfind(".//dcc:results/dcc:result", namespaces=ns):
        lists = result.findall("dcc:data/dcc:list", ns)
        rname = result.findtext("dcc:name/dcc:content", namespaces=ns) or ""
        function = rname[rname.rfind("(") + 1:-1] if lists and rname.endswith(")") else None
        if function:
            out["functions"].append({"function": function, "name": rname, "points": len(lists)})
        for res in lists or [result]:
            _summarize_point(res, function, out["points"])
    return out


def _summarize_point(res, function: str | None, points: list[dict[str, Any]]) -> None:
    ns = {"dcc": DCC_NS, "si": SI_NS}
    q = {el.get("refType"): el for el in res.iterfind("dcc:quantity", namespaces=ns)} \
        or {el.get("refType"): el for el in res.iterfind("dcc:data/dcc:quantity", namespaces=ns)}
    err = q["basic_measurementError"]
    real = err.find("si:real", ns)
    mu = real.find("si:measurementUncertaintyUnivariate/si:expandedMU", ns)
    unit = from_dsi(real.findtext("si:unit", namespaces=ns))
    freq = q.get("labauto_signalFrequency")
    points.append({
        "name": res.findtext("dcc:name/dcc:content", namespaces=ns),
        "function": function,
        "frequency": None if freq is None else _real_q(freq.find("si:real", ns)),
        "nominal": _real_q(q["basic_nominalValue"].find("si:real", ns)),
        "error": _real_q(real),
        "U": Q_(float(mu.findtext("si:valueExpandedMU", namespaces=ns)), unit),
        "k": float(mu.findtext("si:coverageFactor", namespaces=ns)),
        "coverage_probability": float(mu.findtext("si:coverageProbability", namespaces=ns)),
        "conformity": err.findtext(".//dcc:metaData/dcc:conformity", namespaces=ns),
    })
    for key, ref in (("conformance_probability", "labauto_conformanceProbability"),
                     ("specific_risk", "labauto_specificRisk")):
        value = err.find(f".//dcc:metaData/dcc:data/dcc:quantity[@refType='{ref}']/si:real/si:value", ns)
        points[-1][key] = None if value is None else float(value.text)
