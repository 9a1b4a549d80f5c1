"""PTB's Schematron rules (dcc.sch) on the real engine (:mod:`labauto.platform.server.schematron`:
SchXslt on Saxon-HE), reached through the admission stage
:func:`~labauto.platform.server.dcc.check_rules` and the :class:`RuleBook` itself.

Each case takes a valid DCC — PTB's ``examples/valid.xml`` (read from the shared DCC folder,
never copied) or labauto's own ``build_dcc`` output — breaks one thing with an edit that adds no
line before the offending element, and expects an error finding with PTB's message at the line
of the offending element, and the admission stage ``schematron``.  Some cases build structures
the DCC 3.3.0 XSD would refuse (PTB's rules name paths that exist only outside it); the rules
run on the tree.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from lxml import etree

from labauto.certificate.dcc_xml import build_dcc
from labauto.platform.server.dcc import AdmissionError, SchemaRegistry, check_rules, parse_well_formed
from labauto.platform.server.schematron import RulesReport

TESTS = Path(__file__).resolve().parents[1]

Edit = Callable[[bytes], bytes]


def replace(old: bytes, new: bytes) -> Edit:
    """Replace the first occurrence of ``old`` (which must be there)."""
    def edit(doc: bytes) -> bytes:
        assert old in doc, old
        return doc.replace(old, new, 1)
    return edit


def after(old: bytes, insertion: bytes) -> Edit:
    return replace(old, old + insertion)


def after_match(pattern: bytes, insertion: bytes) -> Edit:
    """Insert after the first match of the regular expression ``pattern``."""
    def edit(doc: bytes) -> bytes:
        m = re.search(pattern, doc)
        assert m, pattern
        return doc[:m.end()] + insertion + doc[m.end():]
    return edit


def edits(*steps: Edit) -> Edit:
    def edit(doc: bytes) -> bytes:
        for step in steps:
            doc = step(doc)
        return doc
    return edit


def strip_lang(doc: bytes) -> bytes:
    return doc.replace(b' lang="de"', b"").replace(b' lang="en"', b"")


@dataclass
class Case:
    id: str
    edit: Edit
    blame: bytes        # regular expression: the offending element starts where it matches
    message: str        # PTB's message, filled in
    base: str = "ptb"   # "ptb" (examples/valid.xml), "labauto" (build_dcc), "labauto-flat"


REL_LIST = (b"<dcc:relativeUncertainty><dcc:relativeUncertaintyXmlList><si:valueXMLList>0.01"
            b"</si:valueXMLList><si:unitXMLList>\\one</si:unitXMLList>"
            b"</dcc:relativeUncertaintyXmlList></dcc:relativeUncertainty>")
REL_SINGLE = (b"<dcc:relativeUncertainty><dcc:relativeUncertainty><si:value>%s</si:value>"
              b"<si:unit>\\one</si:unit></dcc:relativeUncertainty></dcc:relativeUncertainty>")
EXPANDED_UNC = (b"<si:expandedUnc><si:uncertainty>%s</si:uncertainty><si:coverageFactor>2"
                b"</si:coverageFactor><si:coverageProbability>0.95</si:coverageProbability>"
                b"</si:expandedUnc>")
EXPANDED_UNC_LIST = (b"<si:realListXMLList><si:expandedUncXMLList><si:uncertaintyXMLList>0.1"
                     b"</si:uncertaintyXMLList><si:coverageFactorXMLList>2"
                     b"</si:coverageFactorXMLList><si:coverageProbabilityXMLList>0.95"
                     b"</si:coverageProbabilityXMLList>"
                     b"</si:expandedUncXMLList></si:realListXMLList>")
RANGE_MIN = b'<dcc:quantity refType="basic_validityRangeMin">'
LIMIT_LOWER = b'<dcc:quantity refType="basic_acceptanceLimitLower">'
ERROR_VALUES = b"<si:valueXMLList>0.072 0.089 0.107 -0.009 -0.084</si:valueXMLList>"
ERROR_REAL_LIST_END = (rb"<si:distributionXMLList>normal</si:distributionXMLList>\s*"
                       rb"</si:expandedUncXMLList>\s*</si:realListXMLList>")
SPACING = ("contains improper spacing. Ensure exactly one space separates entries with no "
           "leading/trailing spaces.")


def list_case(id: str, edit: Edit, blame: bytes, subject: str, value: str) -> Case:
    # (PTB's message does not quote the value: ``value`` documents the case)
    return Case(f"lists-{id}", edit, blame, f"Invalid list formatting: {subject} {SPACING}")


CASES = [
    # usedMethods placement
    Case("used-methods-list", lambda d: re.sub(rb"<dcc:usedMethods>.*?</dcc:usedMethods>", b"", d,
                                               count=1, flags=re.S),
         rb'<dcc:list refType="gp_table1">',
         "Missing measurement methods: No methods declared globally, locally, or for individual "
         "quantities. Each quantity must have associated used methods declared."),
    Case("used-methods-quantity", lambda d: re.sub(rb"<dcc:usedMethods>.*?</dcc:usedMethods>", b"",
                                                   d, count=1, flags=re.S),
         rb'<dcc:quantity refType="basic_nominalValue">',
         "Missing measurement methods: No methods declared globally or locally for this quantity. "
         "Measurement methods are required.", base="labauto-flat"),
    Case("used-methods-labauto-point", lambda d: re.sub(rb"<dcc:usedMethods>.*?</dcc:usedMethods>",
                                                        b"", d, count=1, flags=re.S),
         rb'<dcc:list refType="labauto_testPoint">',
         "Missing measurement methods: No methods declared globally, locally, or for individual "
         "quantities. Each quantity must have associated used methods declared.", base="labauto"),
    # influenceConditions placement
    Case("influence-conditions-list",
         lambda d: re.sub(rb"<dcc:influenceConditions>.*?</dcc:influenceConditions>", b"", d,
                          count=1, flags=re.S),
         rb'<dcc:list refType="gp_table1">',
         "Missing influence conditions: No conditions declared globally, locally, or for "
         "individual quantities. Each quantity must have associated influence conditions."),
    Case("influence-conditions-quantity",
         lambda d: re.sub(rb"<dcc:influenceConditions>.*?</dcc:influenceConditions>", b"", d,
                          count=1, flags=re.S),
         rb'<dcc:quantity refType="basic_nominalValue">',
         "Missing influence conditions: No conditions declared globally or locally for this "
         "quantity. Influence conditions are required.", base="labauto-flat"),
    Case("influence-conditions-labauto-point",
         lambda d: re.sub(rb"<dcc:influenceConditions>.*?</dcc:influenceConditions>", b"", d,
                          count=1, flags=re.S),
         rb'<dcc:list refType="labauto_testPoint">',
         "Missing influence conditions: No conditions declared globally, locally, or for "
         "individual quantities. Each quantity must have associated influence conditions.",
         base="labauto"),
    # @refId links
    Case("ref-id-unknown", replace(b"<dcc:measurementResult>",
                                   b'<dcc:measurementResult refId="table9">'),
         rb"<dcc:measurementResult refId",
         "Invalid reference ID: The refId 'table9' does not correspond to any existing ID in the "
         "document."),
    # languages of dcc:content
    Case("lang-undeclared", replace(b'<dcc:content lang="en">Order no.',
                                    b'<dcc:content lang="fr">Order no.'),
         rb'<dcc:content lang="fr">',
         "Invalid language code: The language code 'fr' is not declared in "
         "dcc:usedLangCodeISO639_1. Available codes are:en, de."),
    Case("lang-missing", replace(b'<dcc:content lang="de">Auftrags Nr.</dcc:content>', b""),
         rb'<dcc:name>\s*<dcc:content lang="en">Order no\.',
         "The dcc:content elements use only [en] of the declared languages [en, de]. Add missing "
         "languages or use one without a @lang attribute."),
    Case("lang-twice", replace(b'<dcc:content lang="de">Auftrags Nr.',
                               b'<dcc:content lang="en">Auftrags Nr.'),
         rb'<dcc:name>\s*<dcc:content lang="en">Auftrags',
         "Duplicate language codes detected in dcc:content elements: [en, en]. Each dcc:content "
         "element must use a unique @lang value."),
    # performance dates
    Case("end-before-begin", replace(b"<dcc:endPerformanceDate>1957-08-13<",
                                     b"<dcc:endPerformanceDate>1957-08-12<"),
         rb"<dcc:endPerformanceDate>",
         "Invalid date range: The calibration end date (1957-08-12) cannot be before the beginning "
         "date (1957-08-13)."),
    Case("end-before-begin-timezones",   # begins 1957-08-13T02:00Z, ends 1957-08-13T00:00Z
         edits(replace(b"<dcc:beginPerformanceDate>1957-08-13<",
                       b"<dcc:beginPerformanceDate>1957-08-13-02:00<"),
               replace(b"<dcc:endPerformanceDate>1957-08-13<",
                       b"<dcc:endPerformanceDate>1957-08-13Z<")),
         rb"<dcc:endPerformanceDate>",
         "Invalid date range: The calibration end date (1957-08-13Z) cannot be before the "
         "beginning date (1957-08-13-02:00)."),
    # software release
    Case("release-format", replace(b"<dcc:release>v8.2<", b"<dcc:release>8.2<"),
         rb"<dcc:release>",
         "Invalid release version format: The release version '8.2' for software "
         "' Notepad++ (32-bit)' does not follow the required format (e.g., 'v1.2.3' or 'A 1.0')."),
    # ISO codes
    Case("iso-639-used", lambda d: d.replace(b"<dcc:usedLangCodeISO639_1>de<",
                                             b"<dcc:usedLangCodeISO639_1>xx<")
                                    .replace(b'lang="de"', b'lang="xx"'),
         rb"<dcc:usedLangCodeISO639_1>xx",
         "Invalid ISO 639-1 language code: 'xx' is not a valid language code according to the "
         "ISO 639-1 standard."),
    Case("iso-639-mandatory", replace(b"<dcc:mandatoryLangCodeISO639_1>en<",
                                      b"<dcc:mandatoryLangCodeISO639_1>qq<"),
         rb"<dcc:mandatoryLangCodeISO639_1>",
         "Invalid ISO 639-1 language code: 'qq' is not a valid language code according to the "
         "ISO 639-1 standard."),
    Case("iso-3166", replace(b"<dcc:countryCodeISO3166_1>DE<", b"<dcc:countryCodeISO3166_1>XX<"),
         rb"<dcc:countryCodeISO3166_1>",
         "Invalid ISO 3166-1 country code: 'XX' is not a valid country code according to the "
         "ISO 3166-1 standard."),
    Case("iso-3166-missing-from-ptbs-list",   # assigned (Algeria), but not in PTB's list
         replace(b"<dcc:countryCodeISO3166_1>DE<", b"<dcc:countryCodeISO3166_1>DZ<"),
         rb"<dcc:countryCodeISO3166_1>",
         "Invalid ISO 3166-1 country code: 'DZ' is not a valid country code according to the "
         "ISO 3166-1 standard."),
    # relative uncertainty, the five reports on dcc:quantity in PTB's order
    Case("rel-unc-list-without-expanded-unc-list", after(LIMIT_LOWER, REL_LIST),
         re.escape(LIMIT_LOWER),
         "Missing expanded uncertainty: Relative uncertainty is provided but corresponding "
         "expanded uncertainty is missing."),
    Case("rel-unc-single-without-expanded-unc", after(RANGE_MIN, REL_SINGLE % b"0.01"),
         re.escape(RANGE_MIN),
         "Missing expanded uncertainty: Relative uncertainty is provided but corresponding "
         "expanded uncertainty is missing."),
    Case("rel-unc-single-with-value-list",
         after(LIMIT_LOWER, b"<si:real>" + EXPANDED_UNC % b"0.1" + b"</si:real>"
               + REL_SINGLE % b"0.01"),
         re.escape(LIMIT_LOWER),
         "Inconsistent data format: Value list requires relative uncertainty list, not single "
         "relative uncertainty value."),
    Case("rel-unc-list-with-single-value", after(RANGE_MIN, EXPANDED_UNC_LIST + REL_LIST),
         re.escape(RANGE_MIN),
         "Inconsistent data format: Single value requires single relative uncertainty, not "
         "relative uncertainty list."),
    Case("rel-unc-calculation",
         edits(after(b"<si:value>306</si:value>", EXPANDED_UNC % b"0.5"),
               after(RANGE_MIN, REL_SINGLE % b"0.002")),
         re.escape(RANGE_MIN),
         "Incorrect relative uncertainty calculation: The relative uncertainty value (0.002) does "
         "not match the calculation (uncertainty/value =0.0016339869281045752)."),
    Case("rel-unc-list-count",
         after_match(ERROR_REAL_LIST_END, REL_LIST.replace(b">0.01<", b">0.01 0.02 0.03<")),
         rb"<dcc:relativeUncertainty>",
         "Count mismatch: The number of relative uncertainty values (3) must match the number of "
         "measurement values (5) when not using a constant uncertainty."),
    Case("expanded-unc-list-count",
         replace(b"<si:uncertaintyXMLList>0.061<", b"<si:uncertaintyXMLList>0.061 0.062<"),
         rb"<si:realListXMLList>\s*<si:valueXMLList>0\.072",
         "Count mismatch: The number of expanded uncertainty values (2) must match the number of "
         "measurement values ( 5) when not using constant uncertainty."),
    # units
    Case("unit-with-space", replace(b"<si:unit>\\kelvin<", b"<si:unit>\\milli \\kelvin<"),
         rb"<si:unit>",
         "Invalid unit format: Units cannot contain spaces. Found '\\milli \\kelvin'."),
    Case("unit-list-count", after_match(re.escape(ERROR_VALUES) + rb"\s*<si:unitXMLList>\\kelvin",
                                        b" \\kelvin"),
         rb"<si:unitXMLList>\\kelvin \\kelvin",
         "Unit count mismatch: If units vary across values, you must provide a unit for each "
         "value. Found 2 units for 5 values."),
    # non-SI units
    Case("non-si-unit-undeclared",
         after(RANGE_MIN, b"<si:hybrid><si:real><si:value>91.13</si:value>"
                          b"<si:unit>|degreeFahrenheit</si:unit></si:real></si:hybrid>"),
         re.escape(RANGE_MIN),
         "Undeclared non-SI unit: The unit '|degreeFahrenheit' appears to be a non-SI unit but is "
         "not declared in the dcc:nonSIUnit statements."),
    Case("non-si-unit-without-definition",
         after(b'<dcc:statement refType="basic_validityRange">',
               b"<dcc:nonSIUnit>|mmHg</dcc:nonSIUnit>"),
         rb'<dcc:statement refType="basic_validityRange">',
         "Missing non-SI unit definition: The non-SI unit '|mmHg' must have a corresponding "
         "definition in dcc:nonSIDefinition."),
    Case("non-si-definition-without-unit",
         after(b'<dcc:statement refType="basic_validityRange">',
               b"<dcc:nonSIDefinition>millimetre of mercury, 133.322 Pa</dcc:nonSIDefinition>"),
         rb'<dcc:statement refType="basic_validityRange">',
         "Missing non-SI unit declaration: The non-SI unit definition must have a corresponding "
         "unit declaration in dcc:nonSIUnit."),
    # duplicate language declarations (without lang-tagged contents: with them, the language
    # pattern's count rule fails first)
    Case("used-lang-declared-twice",
         edits(strip_lang, after(b"<dcc:usedLangCodeISO639_1>de</dcc:usedLangCodeISO639_1>",
                                 b"<dcc:usedLangCodeISO639_1>de</dcc:usedLangCodeISO639_1>")),
         rb"<dcc:usedLangCodeISO639_1>de",
         "Duplicate language code: The language code 'de' is declared multiple times. Each "
         "language code may only be declared once."),
    # XML list formatting, in PTB's order of rules
    list_case("value", replace(b">0.072 0.089 ", b">0.072  0.089 "), rb"0\.072  0\.089",
              "XML list", "0.072  0.089 0.107 -0.009 -0.084"),
    list_case("unit", replace(b"<si:unitXMLList>\\kelvin<", b"<si:unitXMLList>\\kelvin\t<"),
              rb"<si:unitXMLList>", "Unit XML list", "\\kelvin\t"),
    list_case("label", after(ERROR_VALUES, b"<si:labelXMLList>a  b</si:labelXMLList>"),
              re.escape(ERROR_VALUES), "Label XML list", "a  b"),
    list_case("si-date-time",
              after(ERROR_VALUES, b"<si:dateTimeXMLList> 1957-08-13T10:00:00Z"
                                  b"</si:dateTimeXMLList>"),
              re.escape(ERROR_VALUES), "DateTime XML list", " 1957-08-13T10:00:00Z"),
    list_case("uncertainty", replace(b"<si:uncertaintyXMLList>0.061<",
                                     b"<si:uncertaintyXMLList>\t0.061<"),
              rb"<si:uncertaintyXMLList>", "Uncertainty XML list", "\t0.061"),
    list_case("coverage-factor", replace(b"<si:coverageFactorXMLList>2<",
                                         b"<si:coverageFactorXMLList>2 <"),
              rb"<si:coverageFactorXMLList>", "Coverage factor XML list", "2 "),
    list_case("coverage-probability", replace(b"<si:coverageProbabilityXMLList>0.95<",
                                              b"<si:coverageProbabilityXMLList> 0.95<"),
              rb"<si:coverageProbabilityXMLList>", "Coverage probability XML list", " 0.95"),
    list_case("distribution", replace(b"<si:distributionXMLList>normal<",
                                      b"<si:distributionXMLList>normal  normal<"),
              rb"<si:distributionXMLList>", "Distribution XML list", "normal  normal"),
    list_case("standard-unc", after(ERROR_VALUES, b"<si:standardUncXMLList>0.03  0.03"
                                                  b"</si:standardUncXMLList>"),
              re.escape(ERROR_VALUES), "Standard uncertainty XML list", "0.03  0.03"),
    list_case("interval-min",
              after(ERROR_VALUES, b"<si:intervalMinXMLList></si:intervalMinXMLList>"),
              re.escape(ERROR_VALUES), "Interval minimum XML list", ""),
    list_case("interval-max",   # a character reference: the string value ends in a newline
              after(ERROR_VALUES, b"<si:intervalMaxXMLList>1 2&#10;</si:intervalMaxXMLList>"),
              re.escape(ERROR_VALUES), "Interval maximum XML list", "1 2\n"),
    list_case("dcc-date-time-list-type",   # PTB's context, literally (the name of an XSD type)
              after(b'<dcc:list refType="gp_table1">',
                    b"<dcc:dateTimeXMLListType>1957-08-13T10:00:00Z  1957-08-13T11:00:00Z"
                    b"</dcc:dateTimeXMLListType>"),
              rb'<dcc:list refType="gp_table1">', "DateTime list",
              "1957-08-13T10:00:00Z  1957-08-13T11:00:00Z"),
    list_case("conformity-status-list-type",   # PTB's context, literally
              after(b"<dcc:conformityXMLList>pass</dcc:conformityXMLList>",
                    b"<dcc:stringConformityStatementStatusXMLListType>pass  fail"
                    b"</dcc:stringConformityStatementStatusXMLListType>"),
              rb"<dcc:conformityXMLList>", "Conformity statement status list", "pass  fail"),
    Case("lists-ref-type", replace(b'refType="gp_table1"', b'refType="gp_table1 "'),
         rb"<dcc:list refType",
         f"Invalid attribute formatting: The refType attribute 'gp_table1 ' {SPACING}"),
    Case("lists-ref-id", replace(b"<dcc:measurementResult>",
                                 b'<dcc:measurementResult id="r1" refId="r1  r1">'),
         rb"<dcc:measurementResult id",
         f"Invalid attribute formatting: The refId attribute 'r1 r1' {SPACING}"),
]


def _certificate_fixtures():
    """tests/certificate/conftest.py (its ``make_result()``), loaded under its own name."""
    spec = importlib.util.spec_from_file_location("labauto_certificate_fixtures",
                                                  TESTS / "certificate" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def labauto_dcc() -> bytes:
    """labauto's own unsigned DCC 3.3.0 for the hand-built DC-voltage calibration."""
    return build_dcc(_certificate_fixtures().make_result())


def _first_point_unwrapped(xml: bytes) -> bytes:
    """labauto's DCC (one dcc:list per test point inside each function's dcc:result) with the
    first point's quantities directly in its result's dcc:data: the placement PTB's rules for
    ``dcc:result/dcc:data/dcc:quantity`` look at."""
    from lxml import etree

    root = etree.fromstring(xml)
    ns = {"dcc": "https://ptb.de/dcc"}
    first = root.find(".//dcc:results/dcc:result/dcc:data/dcc:list", ns)
    data = first.getparent()
    at = data.index(first)
    for i, q in enumerate(first.findall("dcc:quantity", ns)):
        data.insert(at + i, q)
    data.remove(first)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@pytest.fixture(scope="module")
def bases(dcc_template: bytes, labauto_dcc: bytes) -> dict[str, bytes]:
    return {"ptb": dcc_template, "labauto": labauto_dcc,
            "labauto-flat": _first_point_unwrapped(labauto_dcc)}


@pytest.fixture(scope="module")
def registry(dcc_schema_dir: Path) -> SchemaRegistry:
    return SchemaRegistry(dcc_schema_dir)


def rules(xml: bytes, registry: SchemaRegistry, version: str = "3.3.0") -> RulesReport:
    """The admission stage (raises on an error finding) and, when it passes, its report."""
    return check_rules(parse_well_formed(xml), version, registry)


def findings(xml: bytes, registry: SchemaRegistry, version: str = "3.3.0") -> RulesReport:
    return registry.rules.check(parse_well_formed(xml), version)


def line_of(doc: bytes, pattern: bytes) -> int:
    m = re.search(pattern, doc)
    assert m, pattern
    return doc.count(b"\n", 0, m.start()) + 1


def test_the_bases_pass(bases, registry):
    for xml in bases.values():
        assert rules(xml, registry).errors == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_error_rule_refuses_with_ptbs_message_and_the_line(case: Case, bases, registry):
    doc = case.edit(bases[case.base])
    assert doc != bases[case.base]
    report = findings(doc, registry)
    assert (f"line {line_of(doc, case.blame)}: {case.message}") in [f.text() for f in report.errors]
    with pytest.raises(AdmissionError) as err:
        rules(doc, registry)
    assert err.value.stage == "schematron"
    assert err.value.detail.startswith("breaks PTB's DCC rules: line ")


IDENT_NAME = (b'<dcc:content lang="de">Auftrags Nr.</dcc:content>\n'
              b'            <dcc:content lang="en">Order no.</dcc:content>')

ACCEPTED = [
    # warnings and information are not enforced
    ("schema-version-outdated", replace(b'schemaVersion="3.3.0"', b'schemaVersion="3.2.0"')),
    ("id-not-referenced", replace(b"<dcc:measurementResult>", b'<dcc:measurementResult id="r1">')),
    ("identical-units-listed",
     after_match(re.escape(ERROR_VALUES) + rb"\s*<si:unitXMLList>\\kelvin",
                 b" \\kelvin \\kelvin \\kelvin \\kelvin")),
    ("content-without-lang", replace(IDENT_NAME, b"<dcc:content>Order no.</dcc:content>")),
    # (no dcc:usedSoftware anywhere in valid.xml: a warning)
    # literal readings of PTB's tests
    ("ref-id-with-one-known-token",
     replace(b"<dcc:measurementResult>", b'<dcc:measurementResult id="r1" refId="r1 elsewhere">')),
    ("tab-between-entries", replace(b">0.072 0.089 ", b">0.072\t0.089 ")),
    ("dates-in-timezones", edits(replace(b"<dcc:beginPerformanceDate>1957-08-13<",
                                         b"<dcc:beginPerformanceDate>1957-08-13+02:00<"),
                                 replace(b"<dcc:endPerformanceDate>1957-08-13<",
                                         b"<dcc:endPerformanceDate>1957-08-13Z<"))),
    ("languages-in-another-order", replace(IDENT_NAME, b'<dcc:content lang="en">Order no.'
                                                       b'</dcc:content><dcc:content lang="de">'
                                                       b'Auftrags Nr.</dcc:content>')),
    ("release-with-space", replace(b"<dcc:release>v8.2<", b"<dcc:release>A 1.0.12.999<")),
    # PTB's contains() takes any substring of its code list
    ("country-code-substring-of-ptbs-list",
     replace(b"<dcc:countryCodeISO3166_1>DE<", b"<dcc:countryCodeISO3166_1>D<")),
    # PTB's list-spacing contexts name XSD types, not the elements of those types
    ("date-time-list-element", after(b'<dcc:list refType="gp_table1">',
                                     b"<dcc:dateTimeXMLList>1957-08-13T10:00:00Z  1957-08-13T11:00:00Z"
                                     b"</dcc:dateTimeXMLList>")),
    ("conformity-list-element", replace(b"<dcc:conformityXMLList>pass<", b"<dcc:conformityXMLList>pass <")),
    ("constant-relative-uncertainty", after_match(ERROR_REAL_LIST_END, REL_LIST)),
    ("relative-uncertainty-exact", edits(after(b"<si:value>306</si:value>", EXPANDED_UNC % b"3.06"),
                                         after(RANGE_MIN, REL_SINGLE % b"0.01"))),
    ("non-si-unit-declared",
     edits(after(RANGE_MIN, b"<si:hybrid><si:real><si:value>91.13</si:value>"
                            b"<si:unit>|degreeFahrenheit</si:unit></si:real></si:hybrid>"),
           after(b'<dcc:statement refType="basic_validityRange">',
                 b"<dcc:nonSIDefinition>degree Fahrenheit: 5/9 K</dcc:nonSIDefinition>"
                 b"<dcc:nonSIUnit>|degreeFahrenheit</dcc:nonSIUnit>"))),
]


@pytest.mark.parametrize("edit", [e for _, e in ACCEPTED], ids=[i for i, _ in ACCEPTED])
def test_warnings_and_literal_readings_are_accepted(edit: Edit, dcc_template: bytes, registry):
    doc = edit(dcc_template)
    assert doc != dcc_template
    assert rules(doc, registry).errors == []


def _ptb_error_messages(dcc_dir: Path) -> list[str]:
    """The text of every role="error" assert/report of PTB's dcc.sch up to its first
    ``sch:value-of``, whitespace collapsed."""
    sch = etree.parse(str(dcc_dir / "schema" / "dcc.sch"))
    ns = {"sch": "http://purl.oclc.org/dsdl/schematron"}
    return [" ".join((el.text or "").split())
            for el in sch.xpath("//sch:assert[@role='error'] | //sch:report[@role='error']",
                                namespaces=ns)]


def test_every_ptb_error_rule_has_a_case(dcc_dir: Path):
    messages = _ptb_error_messages(dcc_dir)
    assert len(messages) == 41   # PTB's dcc.sch for DCC 3.3.0
    for message in messages:
        assert any(c.message.startswith(message) for c in CASES), message


def test_ptb_examples(dcc_dir: Path, registry):
    examples = dcc_dir / "examples"
    for name in ("valid.xml", "valid_signature.xml", "invalid_signature.xml"):
        report = rules((examples / name).read_bytes(), registry)
        assert report.errors == []
        # PTB's examples declare no dcc:usedSoftware: PTB's one warning
        assert {f.message for f in report.warnings} == {
            "Software information missing: Consider declaring software used during measurement "
            "process (globally, locally, or per quantity)."}
    bad = (examples / "invalid_schematron.xml").read_bytes()
    report = findings(bad, registry)
    assert (f"line {line_of(bad, rb'lang=.en.')}: Invalid language code: The language code 'en' is "
            "not declared in dcc:usedLangCodeISO639_1. Available codes are:de.") in [f.text() for f in report.errors]
    with pytest.raises(AdmissionError) as err:
        rules(bad, registry)
    assert err.value.stage == "schematron"


def test_labauto_dcc_passes_all_rules_without_a_warning(labauto_dcc: bytes, registry):
    # (dcc:release is written in PTB's format, a letter first: "v0.1.0")
    assert re.search(rb"<dcc:release>v\d", labauto_dcc)
    report = rules(labauto_dcc, registry)
    assert report.applied and report.errors == [] and report.warnings == []


def test_a_signed_dcc_is_checked_without_its_signature(labauto_dcc: bytes, registry, lab_keys):
    """The rules see the DCC content, not the XML signature (see the schematron module): a
    signed DCC has exactly the findings of the unsigned one, and its tree is left intact."""
    from labauto.certificate.signing import sign_dcc, verify_dcc

    signed = sign_dcc(labauto_dcc, lab_keys.key_pem, lab_keys.cert_pem)
    root = parse_well_formed(signed)
    report = registry.rules.check(root, "3.3.0")
    assert report.errors == [] and report.warnings == []
    verify_dcc(root)          # the signature was put back where it was


def test_rules_follow_the_declared_version(dcc_template: bytes, registry):
    """dcc.sch is PTB's rule set for 3.3.0: it applies to 3.3.x; for other versions there are
    no published rules and the report says so (the XSD alone decides)."""
    broken = dcc_template.replace(b"<dcc:countryCodeISO3166_1>DE<", b"<dcc:countryCodeISO3166_1>XX<")
    assert findings(broken, registry, "3.3.1").errors
    for version in ("3.2.1", "3.1.0", "2.4.0"):
        report = findings(broken, registry, version)
        assert not report.applied and report.errors == [] and report.warnings == []
        assert report.note == f"no Schematron rules published for this version ({version}): XSD only"


@pytest.fixture(scope="module")
def schxslt_as_compiled(dcc_schema_dir: Path):
    """PTB's rules in the stylesheet exactly as SchXslt compiles it (no lean rewrite)."""
    from labauto.platform.server.schematron import RuleBook
    book = RuleBook(dcc_schema_dir, lean=False, processes=0)
    assert book.lean is False
    return book


# documents beyond the rule cases: a warning no other document raises, the first-rule-per-pattern
# semantics where it decides, and documents on which Saxon raises a dynamic error
EXTRA = [
    ("software-per-quantity-missing", "labauto-flat",
     lambda d: re.sub(rb"<dcc:usedSoftware>.*?</dcc:usedSoftware>", b"", d, flags=re.S)),
    ("ids-linked", "ptb", replace(b"<dcc:measurementResult>",
                                  b'<dcc:measurementResult id="r1 r2" refId="r1"><dcc:name id="r2" refId="r1 r2">'
                                  b'<dcc:content>linked</dcc:content></dcc:name>')),
    # a dcc:content with @lang holding a dcc:content with @lang: the language pattern's first
    # rule (dcc:content[@lang]) takes it; its second (*[dcc:content[@lang]]) must not fire there
    ("first-rule-of-a-pattern-only", "ptb",
     replace(b'<dcc:content lang="en">Order no.</dcc:content>',
             b'<dcc:content lang="en">Order no.<dcc:content lang="en">inner</dcc:content></dcc:content>')),
]
ENGINE_ERRORS = [     # (xs:date of a non-date; matches() on two text nodes)
    ("end-date-not-a-date", replace(b"<dcc:endPerformanceDate>1957-08-13<",
                                    b"<dcc:endPerformanceDate>13.08.1957<")),
    ("release-in-two-text-nodes", replace(b"<dcc:release>v8.2<", b"<dcc:release>v8<!-- -->.2<")),
]


def _every_rule_document(bases: dict[str, bytes], dcc_dir: Path) -> list[tuple[str, bytes]]:
    docs = [(f"case {c.id}", c.edit(bases[c.base])) for c in CASES]
    docs += [(f"accepted {i}", e(bases["ptb"])) for i, e in ACCEPTED]
    docs += [(f"extra {i}", e(bases[b])) for i, b, e in EXTRA]
    docs += [(f"example {p.name}", p.read_bytes()) for p in sorted((dcc_dir / "examples").glob("*.xml"))
             if p.name != "invalid_syntax.xml"]
    return docs + [(f"base {k}", v) for k, v in bases.items()]


@pytest.fixture(scope="module")
def schxslt_lean(dcc_schema_dir: Path):
    """PTB's rules in the lean stylesheet, without the per-pattern modes."""
    from labauto.platform.server.schematron import RuleBook
    book = RuleBook(dcc_schema_dir, pattern_modes=False, processes=0)
    assert book.lean is True and book.pattern_modes is False
    return book


def test_stylesheet_in_use_finds_exactly_what_schxslt_finds(bases, registry, schxslt_as_compiled,
                                                            schxslt_lean, dcc_dir: Path):
    """The stylesheet the platform runs (lean, one mode per pattern, remembered regular
    expressions: schematron_xslt) reports, on every rule case, every accepted edit, the extra
    documents, PTB's examples and the bases, the same findings — roles, PTB's messages,
    locations, lines — in the same order as the stylesheet SchXslt compiled, and so does the
    lean stylesheet alone."""
    assert registry.rules.lean is True and registry.rules.pattern_modes is True
    docs = _every_rule_document(bases, dcc_dir)
    assert len(docs) > 60
    with_errors = with_warnings = 0
    for label, xml in docs:
        root = parse_well_formed(xml)
        compiled = schxslt_as_compiled.check(root, "3.3.0")
        assert registry.rules.check(root, "3.3.0") == compiled, label
        assert schxslt_lean.check(root, "3.3.0") == compiled, label
        with_errors += bool(compiled.errors)
        with_warnings += bool(compiled.warnings)
    assert with_errors >= len(CASES)        # the comparison covered refusals, not only passes
    assert with_warnings >= 6


def _fired(stylesheet: str, docs: list[bytes]) -> set[tuple[str, str, str, str]]:
    """(role, test, message, name of the node) of every failed assert and fired report of
    ``stylesheet`` on ``docs`` (whitespace collapsed; an attribute's name with its @)."""
    from saxonche import PySaxonProcessor

    from labauto.platform.server.schematron import SVRL, _without_signature
    proc = PySaxonProcessor(license=False)
    executable = proc.new_xslt30_processor().compile_stylesheet(stylesheet_text=stylesheet)
    fired = set()
    for xml in docs:
        svrl = executable.transform_to_string(
            xdm_node=proc.parse_xml(xml_text=_without_signature(parse_well_formed(xml))))
        for el in etree.fromstring(svrl.encode()).iter(SVRL + "failed-assert", SVRL + "successful-report"):
            last = re.search(r"(@?)Q\{[^}]*\}([^/\[]+)(?:\[\d+\])?$", el.get("location"))
            fired.add((el.get("role"), " ".join(el.get("test").split()),
                       " ".join("".join(el.find(SVRL + "text").itertext()).split()), "".join(last.groups())))
    return fired


def test_the_comparison_fires_every_assert_and_report_of_dcc_sch(bases, dcc_dir: Path, dcc_schema_dir: Path):
    """Each of PTB's asserts and reports of role error or warning fails or fires (as SchXslt's
    stylesheet runs it) on at least one document of the comparison above: the comparison covers
    every rule's findings, not only the passes."""
    from saxonche import PySaxonProcessor

    from labauto.platform.server.schematron import schxslt_compile
    sch = etree.parse(str(dcc_dir / "schema" / "dcc.sch"))
    ns = {"sch": "http://purl.oclc.org/dsdl/schematron"}
    # each rule's finding: its role, test, message up to its first sch:value-of, and the name its
    # rule's context ends in ("*" for any)
    expected = [(el.get("role"), " ".join(el.get("test").split()), " ".join((el.text or "").split()),
                 re.sub(r"\[.*\]", "", el.getparent().get("context")).rsplit("/", 1)[-1].replace("dcc:", "")
                 .replace("si:", ""))
                for el in sch.xpath("//sch:assert | //sch:report", namespaces=ns)
                if el.get("role") in ("error", "warning")]
    assert len(expected) == 47 and len(set(expected)) == 47        # 41 errors, 6 warnings
    proc = PySaxonProcessor(license=False)
    compiled = schxslt_compile(proc, proc.new_xslt30_processor(), dcc_schema_dir / "dcc.sch")
    fired = _fired(compiled, [xml for _, xml in _every_rule_document(bases, dcc_dir)])
    never = [e for e in expected
             if not any(f[:2] == e[:2] and f[2].startswith(e[2]) and e[3] in ("*", f[3]) for f in fired)]
    assert never == []


@pytest.mark.parametrize("edit", [e for _, e in ENGINE_ERRORS], ids=[i for i, _ in ENGINE_ERRORS])
def test_a_dynamic_error_fails_the_rules_alike_in_every_stylesheet(edit: Edit, bases, registry,
                                                                   schxslt_as_compiled, schxslt_lean):
    """Where Saxon raises a dynamic error in a rule (an end date that is no xs:date, matches()
    on two text nodes), every stylesheet fails the document with the same engine error."""
    root = parse_well_formed(edit(bases["ptb"]))
    report = schxslt_as_compiled.check(root, "3.3.0")
    assert len(report.errors) == 1 and report.errors[0].message.startswith("the Schematron engine failed: ")
    assert registry.rules.check(root, "3.3.0") == schxslt_lean.check(root, "3.3.0") == report


def test_lean_stylesheet_builds_no_information_finding(dcc_schema_dir: Path):
    """PTB's information-role reports (e.g. "Global measurement methods declared ...") are never
    reported; the lean stylesheet does not evaluate or build them (the test above shows that the
    errors and warnings stay the same), while SchXslt's stylesheet builds them."""
    from saxonche import PySaxonProcessor

    from labauto.platform.server.schematron import SVRL, lean_stylesheet, schxslt_compile
    proc = PySaxonProcessor(license=False)
    compiled = schxslt_compile(proc, proc.new_xslt30_processor(), dcc_schema_dir / "dcc.sch")

    def roles(stylesheet: str) -> list[str]:
        tree = etree.fromstring(stylesheet.encode())
        return [el.get("role") for el in tree.iter(f"{SVRL}failed-assert", f"{SVRL}successful-report")]
    before, after = roles(compiled), roles(lean_stylesheet(compiled)[0])
    assert before.count("information") == 12
    assert "information" not in after
    assert sorted(after) == sorted(r for r in before if r != "information")
