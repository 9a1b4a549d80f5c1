"""PTB's Schematron rules for DCCs — every rule of role ``error`` — in plain Python.

PTB publishes its business rules for DCC 3.3.0 as ``dcc.sch`` (beside the schemas in the DCC
folder), a Schematron with ``queryBinding="xslt2"`` (``tokenize``, ``matches``, ``some ...
satisfies``) that lxml, an XSLT 1 processor, cannot run.  This module implements each rule whose
role is ``error``: an ``sch:assert role="error"`` fails when its test is false, an ``sch:report
role="error"`` fires when its test is true.  Rules of role ``warning`` or ``information`` are
not enforced and never reject a document.  Two of PTB's patterns have no error rules and
therefore no function here: the ``dcc:usedSoftware`` placement pattern (warnings only) and the
schema-version pattern (a warning).

:func:`check` runs one function per PTB pattern, in the order of ``dcc.sch``; a function takes
its pattern's rules (and a rule's asserts/reports) in their order and a rule's offending nodes
in document order, and the first failure is raised as ``AdmissionError("schematron",
"line N: <PTB's message>")`` with the source line of the offending element (of the element
carrying the offending attribute).  The messages are PTB's, whitespace collapsed, with the
``sch:value-of`` parts filled in.

Reading of the XPath 2: values are string values as parsed — not schema-normalised — as in a
non-schema-aware Schematron; ``tokenize(s, ' ')`` splits on single spaces (``"a  b"`` gives
three tokens, ``""`` none); ``\\s`` in PTB's regular expressions is ``[ \\t\\n\\r]``.  Where
XPath 2 would stop with a type error (a function given several nodes where it takes one —
impossible in a schema-valid DCC) the first node is used.  The rules are meant for documents
that passed the XSD stage (as in :func:`~labauto.platform.server.dcc.admit`).  Literal readings
that matter are noted in the functions' docstrings.

Cost: one filtered pass over the elements (``iter`` with the ~30 tags the rules look at) and one
XPath ``//@*`` for the attributes; then each pattern looks only at its own elements.
"""
from __future__ import annotations

import math
import re
from typing import Callable, Iterable, NoReturn

from lxml import etree

from labauto.platform.server.dcc import AdmissionError

_D = "{https://ptb.de/dcc}"
_S = "{https://ptb.de/si}"

MEASUREMENT_RESULT = _D + "measurementResult"
LIST, QUANTITY, DATA, RESULT, META_DATA = (_D + t for t in ("list", "quantity", "data", "result",
                                                            "metaData"))
USED_METHODS, INFLUENCE_CONDITIONS = _D + "usedMethods", _D + "influenceConditions"
CONTENT, NAME, CORE_DATA = _D + "content", _D + "name", _D + "coreData"
USED_LANG, MANDATORY_LANG = _D + "usedLangCodeISO639_1", _D + "mandatoryLangCodeISO639_1"
COUNTRY = _D + "countryCodeISO3166_1"
BEGIN_DATE, END_DATE = _D + "beginPerformanceDate", _D + "endPerformanceDate"
RELEASE = _D + "release"
REL_UNC, REL_UNC_LIST = _D + "relativeUncertainty", _D + "relativeUncertaintyXmlList"
STATEMENT, NON_SI_UNIT = _D + "statement", _D + "nonSIUnit"
NON_SI_DEFINITION = _D + "nonSIDefinition"
SI_REAL, SI_HYBRID, SI_VALUE, SI_UNIT = _S + "real", _S + "hybrid", _S + "value", _S + "unit"
SI_EXPANDED_UNC, SI_UNCERTAINTY = _S + "expandedUnc", _S + "uncertainty"
REAL_LIST, VALUE_LIST, UNIT_LIST = _S + "realListXMLList", _S + "valueXMLList", _S + "unitXMLList"
EXPANDED_UNC_LIST, UNCERTAINTY_LIST = _S + "expandedUncXMLList", _S + "uncertaintyXMLList"

# ISO 639-1 two-letter language codes: the list of PTB's dcc.sch (all 183 codes of the standard).
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de
dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia
id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo
lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl
ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk
tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split())

# ISO 3166-1 alpha-2 country codes: the list of PTB's dcc.sch, plus the five assigned codes it
# lacks — AF (Afghanistan), AX (Åland Islands), AL (Albania), DZ (Algeria), AS (American Samoa).
# A national platform cannot refuse certificates from Algeria because of a gap in a list; this is
# the one place where the platform is more lenient than PTB's validator.  (PTB lists DE twice.)
ISO_3166_1 = frozenset("""
AF AX AL DZ AS
AD AO AI AQ AG AR AM AW AU AT AZ BS BH BD BB BY BE BZ BJ BM BT BO BQ BA BW BV BR IO BN BG BF BI
CV KH CM CA KY CF TD CL CN CX CC CO KM CD CG CK CR CI HR CU CW CY CZ DE DK DJ DM DO EC EG SV GQ
ER EE SZ ET FK FO FJ FI FR GF PF TF GA GM GE DE GH GI GR GL GD GP GU GT GG GN GW GY HT HM VA HN
HK HU IS IN ID IR IQ IE IM IL IT JM JP JE JO KZ KE KI KP KR KW KG LA LV LB LS LR LY LI LT LU MO
MK MG MW MY MV ML MT MH MQ MR MU YT MX FM MD MC MN ME MS MA MZ MM NA NR NP NL NC NZ NI NE NG NU
NF MP NO OM PK PW PS PA PG PY PE PH PN PL PT PR QA RE RO RU RW BL SH KN LC MF PM VC WS SM ST SA
SN RS SC SL SG SX SK SI SB SO ZA GS SS ES LK SD SR SJ SE CH SY TW TJ TZ TH TL TG TK TO TT TN TR
TM TC TV UG UA AE GB UM US UY UZ VU VE VN VG VI WF EH YE ZM ZW""".split())

_SPACING = ("contains improper spacing. Ensure exactly one space separates entries with no "
            "leading/trailing spaces.")
# The XML-list rules of PTB's last pattern, in its order: element -> the subject of its message.
# PTB's contexts dcc:dateTimeXMLListType and dcc:stringConformityStatementStatusXMLListType are
# names of XSD *types*, not of elements: literally they match nothing in a DCC.  The rule is
# applied to those names and to the DCC elements of those types (dcc:dateTimeXMLList,
# dcc:conformityXMLList) — see _xml_lists.
XML_LISTS = {
    _S + "valueXMLList": "XML list",
    _S + "unitXMLList": "Unit XML list",
    _S + "labelXMLList": "Label XML list",
    _S + "dateTimeXMLList": "DateTime XML list",
    _S + "uncertaintyXMLList": "Uncertainty XML list",
    _S + "coverageFactorXMLList": "Coverage factor XML list",
    _S + "coverageProbabilityXMLList": "Coverage probability XML list",
    _S + "distributionXMLList": "Distribution XML list",
    _S + "standardUncXMLList": "Standard uncertainty XML list",
    _S + "intervalMinXMLList": "Interval minimum XML list",
    _S + "intervalMaxXMLList": "Interval maximum XML list",
    _D + "dateTimeXMLListType": "DateTime list",
    _D + "stringConformityStatementStatusXMLListType": "Conformity statement status list",
}
_TYPED_AS = {_D + "dateTimeXMLList": _D + "dateTimeXMLListType",
             _D + "conformityXMLList": _D + "stringConformityStatementStatusXMLListType"}

_TAGS = tuple(dict.fromkeys((MEASUREMENT_RESULT, USED_LANG, MANDATORY_LANG, COUNTRY, END_DATE,
                             RELEASE, REL_UNC, REAL_LIST, SI_UNIT, UNIT_LIST, NON_SI_UNIT,
                             NON_SI_DEFINITION, *XML_LISTS, *_TYPED_AS)))
_ATTRIBUTES = etree.XPath("//@*")

_WS = "[ \t\n\r]"                                     # \s of XPath regular expressions
_LIST_RE = re.compile(f"(?:[^ \t\n\r]+{_WS})*[^ \t\n\r]+")   # '^([^\s]+\s)*([^\s]+)$'
_WORD_RE = re.compile("[^ \t\n\r]+")
_RELEASE_RE = re.compile(r"[a-zA-Z]{1}( )?([0-9]{1,3}\.){0,3}([0-9]{1,3})")
_NON_SI_RE = re.compile("\\|[^\n\r]")                # '^\|.+' ('.' matches no \n, \r)
_DATE_RE = re.compile(r"(-?\d{4,})-(\d\d)-(\d\d)(Z|[+-]\d\d:\d\d)?")
_DOUBLE_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|-?INF|NaN")


class _Doc:
    """What the rules look at, collected in one pass: elements by tag (document order), the
    values of every ``@id``, the ``@refId`` and ``@refType`` attributes, and the ``dcc:content``
    elements with a ``@lang`` as (content, lang) pairs."""

    __slots__ = ("by_tag", "ids", "ref_ids", "ref_types", "lang_contents")

    def __init__(self, root: etree._Element) -> None:
        by_tag: dict[str, list[etree._Element]] = {}
        for el in root.iter(*_TAGS):
            by_tag.setdefault(_TYPED_AS.get(el.tag, el.tag), []).append(el)
        self.by_tag = by_tag
        self.ids: set[str] = set()
        self.ref_ids: list[str] = []
        self.ref_types: list[str] = []
        self.lang_contents: list[tuple[etree._Element, str]] = []
        for attr in _ATTRIBUTES(root):
            name = attr.attrname
            if name == "lang":
                owner = attr.getparent()
                if owner.tag == CONTENT:
                    self.lang_contents.append((owner, attr))
            elif name == "id":
                self.ids.add(attr)
            elif name == "refId":
                self.ref_ids.append(attr)
            elif name == "refType":
                self.ref_types.append(attr)

    def __getitem__(self, tag: str) -> list[etree._Element]:
        return self.by_tag.get(tag, [])


def _fail(el: etree._Element, message: str) -> NoReturn:
    line = el.sourceline if el.sourceline is not None else "?"
    raise AdmissionError("schematron", f"line {line}: {message}")


def _string(el: etree._Element) -> str:
    """The XPath string value (all descendant text, no comments)."""
    return (el.text or "") if len(el) == 0 else "".join(el.itertext())


def _own_text(el: etree._Element) -> str:
    """``text()``: the element's own text nodes, joined."""
    if len(el) == 0:
        return el.text or ""
    return (el.text or "") + "".join(c.tail or "" for c in el)


def _tokens(s: str) -> list[str]:
    """``tokenize(s, ' ')``."""
    return s.split(" ") if s else []


def _first_string(els: Iterable[etree._Element]) -> str:
    return next((_string(e) for e in els), "")


def _children(el: etree._Element, tag: str) -> list[etree._Element]:
    return [c for c in el if c.tag == tag]


def _grandchildren(el: etree._Element, tag: str, tag2: str) -> list[etree._Element]:
    """``tag/tag2`` from ``el``."""
    return [g for c in el if c.tag == tag for g in c if g.tag == tag2]


def _well_spaced(text: str) -> bool:
    """``matches(., '^([^\\s]+\\s)*([^\\s]+)$')``: entries separated by exactly one of space,
    tab, CR, LF; no leading or trailing one; not empty."""
    if not text or text[0] in " \t\n\r" or text[-1] in " \t\n\r":
        return False
    if "\t" in text or "\n" in text or "\r" in text:
        return _LIST_RE.fullmatch(text) is not None
    return "  " not in text


def _show(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


# --- pattern: placement of dcc:usedMethods / dcc:influenceConditions -----------------------------

def _placement(doc: _Doc, child: str, list_message: str, quantity_message: str) -> None:
    """The error reports shared by the usedMethods and influenceConditions patterns.

    Rule ``//dcc:measurementResults//dcc:list[not(ancestor::dcc:metaData)]``: reported when the
    list has no ``child``, its measurementResult has none, and ``count(dcc:quantity) >
    count(dcc:quantity/child)`` — literally: any list under the measurementResult counts (also
    one inside an influence condition), a nested list is not covered by its parent list's
    declaration, and a list without direct quantities is never reported.
    Rule ``//dcc:result/dcc:data/dcc:quantity``: reported when neither the quantity nor its
    measurementResult has ``child``.  (Both contexts lie inside a dcc:measurementResult in a
    schema-valid DCC, so only measurementResults without ``child`` are searched.)"""
    bare = [mr for mr in doc[MEASUREMENT_RESULT] if mr.find(child) is None]
    for mr in bare:
        for lst in mr.iter(LIST):
            if lst.find(child) is not None or next(lst.iterancestors(META_DATA), None) is not None:
                continue
            quantities = _children(lst, QUANTITY)
            if len(quantities) > sum(len(_children(q, child)) for q in quantities):
                _fail(lst, list_message)
    for mr in bare:
        for q in mr.iter(QUANTITY):
            data = q.getparent()
            if (data.tag == DATA and data.getparent().tag == RESULT
                    and q.find(child) is None):
                _fail(q, quantity_message)


def _used_methods(doc: _Doc) -> None:
    """PTB: "This pattern validates the placement of dcc:usedMethods elements within a DCC
    document. Methods can be declared globally under dcc:measurementResult, locally under
    dcc:list, or individually under each dcc:quantity element."  Errors: a result list or a
    result quantity with no methods declared at any of these levels (see :func:`_placement`)."""
    _placement(doc, USED_METHODS,
               "Missing measurement methods: No methods declared globally, locally, or for "
               "individual quantities. Each quantity must have associated used methods declared.",
               "Missing measurement methods: No methods declared globally or locally for this "
               "quantity. Measurement methods are required.")


def _influence_conditions(doc: _Doc) -> None:
    """PTB: "This pattern validates the placement of dcc:influenceConditions elements within a
    DCC document. Influence conditions can be declared globally under dcc:measurementResult,
    locally under dcc:list, or individually under each dcc:quantity element."  Errors (PTB gives
    them role error, unlike the usedSoftware pattern's warnings): a result list or a result
    quantity with no influence conditions at any of these levels (see :func:`_placement`)."""
    _placement(doc, INFLUENCE_CONDITIONS,
               "Missing influence conditions: No conditions declared globally, locally, or for "
               "individual quantities. Each quantity must have associated influence conditions.",
               "Missing influence conditions: No conditions declared globally or locally for "
               "this quantity. Influence conditions are required.")


# --- pattern: @id / @refId links -----------------------------------------------------------------

def _id_references(doc: _Doc) -> None:
    """PTB: "This pattern validates that all @id and @refId attributes are properly linked
    within the document."  Error: ``some $refId in tokenize(., ' ') satisfies $ids = $refId`` —
    literally, a ``@refId`` passes when at least one of its tokens is the ``@id`` of some element
    (the XSD's IDREFS type would require all, but libxml2 does not check IDREFs).  The warning
    for an ``@id`` that no refId references is not enforced."""
    for ref in doc.ref_ids:
        if not any(token in doc.ids for token in _tokens(ref)):
            _fail(ref.getparent(), f"Invalid reference ID: The refId '{ref}' does not correspond "
                                   "to any existing ID in the document.")


# --- pattern: languages of dcc:content -----------------------------------------------------------

def _languages(doc: _Doc) -> None:
    """PTB: "This pattern validates language attributes in dcc:content elements against declared
    language codes."  Errors, with ``$langs`` = every ``dcc:usedLangCodeISO639_1`` of the
    document: a ``dcc:content/@lang`` not among them; an element with lang-tagged contents whose
    number of ``dcc:content/@lang`` differs from ``count($langs)``; such an element with a
    ``@lang`` used twice.  Together: every element with lang-tagged contents gives each declared
    language exactly once (contents without ``@lang`` are not counted).  The warning for a
    content without ``@lang`` is not enforced."""
    langs = [_string(e) for e in doc[USED_LANG]]
    declared = set(langs)
    listed = ", ".join(langs)
    for c, lang in doc.lang_contents:
        if lang not in declared:
            _fail(c, f"Invalid language code: The language code '{lang}' is not declared in "
                     f"dcc:usedLangCodeISO639_1. Available codes are: {listed}.")
    by_parent: dict[etree._Element, list[str]] = {}
    for c, lang in doc.lang_contents:
        parent = c.getparent()
        local = by_parent.get(parent)
        if local is None:
            by_parent[parent] = [lang]
        else:
            local.append(lang)
    n = len(langs)
    for parent, local in by_parent.items():
        if len(local) == n and len(set(local)) == n:
            continue
        if parent.tag == CONTENT and parent.get("lang") is not None:
            continue   # matched by the first rule of the pattern, not by this one
        if len(local) != n:
            _fail(parent, f"The dcc:content elements use only [{', '.join(local)}] of the declared "
                          f"languages [{listed}]. Add missing languages or use one without a "
                          "@lang attribute.")
        if len(local) != len(set(local)):
            _fail(parent, f"Duplicate language codes detected in dcc:content elements: "
                          f"[{', '.join(local)}]. Each dcc:content element must use a unique "
                          "@lang value.")


# --- pattern: performance dates ------------------------------------------------------------------

def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _date_minutes(text: str) -> int | None:
    """An ``xs:date`` as minutes since 1970-01-01T00:00Z at the start of that day (no
    timezone: UTC); None if it is not an xs:date."""
    m = _DATE_RE.fullmatch(text.strip(" \t\n\r"))
    if not m:
        return None
    y, mo, d = int(m[1]), int(m[2]), int(m[3])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= mo <= 12:
        return None
    if not 1 <= d <= (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[mo - 1]:
        return None
    tz = m[4] or "Z"
    offset = 0 if tz == "Z" else (1 if tz[0] == "+" else -1) * (int(tz[1:3]) * 60 + int(tz[4:]))
    return _days_from_civil(y, mo, d) * 1440 - offset


def _performance_dates(doc: _Doc) -> None:
    """PTB: "This pattern validates that calibration end date is not before the beginning
    date."  Error: ``xs:date(../dcc:beginPerformanceDate) le xs:date(.)`` false for
    ``dcc:coreData/dcc:endPerformanceDate``.  Dates with timezones compare as instants (the
    start of the day in that zone); a date without one is taken in UTC (XPath's implicit
    timezone, which Saxon takes from the machine).  A missing or unparsable beginning date
    fails the assert, as the empty comparison does in XPath."""
    for end in doc[END_DATE]:
        core = end.getparent()
        if core.tag != CORE_DATA:
            continue
        begins = _children(core, BEGIN_DATE)
        b_text = _string(begins[0]) if begins else ""
        e_text = _string(end)
        b, e = _date_minutes(b_text), _date_minutes(e_text)
        if b is None or e is None or b > e:
            _fail(end, f"Invalid date range: The calibration end date ({e_text}) cannot be before "
                       f"the beginning date ({b_text}).")


# --- pattern: software release -------------------------------------------------------------------

def _software_release(doc: _Doc) -> None:
    """PTB: "This pattern validates the format of software release version numbers."  Error:
    every ``dcc:release`` matches ``^[a-zA-Z]{1}( )?([0-9]{1,3}\\.){0,3}([0-9]{1,3})$`` — a
    letter, an optional space, then one to four dot-separated numbers of up to three digits
    ('v1.2.3', 'A 1.0'; not '1.2.3').  The text is taken as it stands (no trimming)."""
    for rel in doc[RELEASE]:
        text = _own_text(rel)
        if not _RELEASE_RE.fullmatch(text):
            name_el = next(rel.itersiblings(NAME, preceding=True), None)
            content = name_el.find(CONTENT) if name_el is not None else None
            software = _own_text(content) if content is not None else ""
            _fail(rel, f"Invalid release version format: The release version '{text}' for "
                       f"software '{software}' does not follow the required format (e.g., "
                       "'v1.2.3' or 'A 1.0').")


# --- pattern: ISO language and country codes -----------------------------------------------------

def _iso_codes(doc: _Doc) -> None:
    """PTB: "This pattern validates ISO language and country codes against standard lists."
    Errors: a ``dcc:usedLangCodeISO639_1`` or ``dcc:mandatoryLangCodeISO639_1`` not in ISO
    639-1, a ``dcc:countryCodeISO3166_1`` not in ISO 3166-1, with PTB's code lists
    (:data:`ISO_639_1`, :data:`ISO_3166_1`).  PTB tests ``contains()`` on the space-joined list,
    which would accept any substring ('D', 'E A', ''); this is proper list membership (the same
    for the two-letter codes the XSD admits)."""
    for tag, codes, message in (
            (USED_LANG, ISO_639_1, "Invalid ISO 639-1 language code: '{}' is not a valid language "
                                   "code according to the ISO 639-1 standard."),
            (MANDATORY_LANG, ISO_639_1, "Invalid ISO 639-1 language code: '{}' is not a valid "
                                        "language code according to the ISO 639-1 standard."),
            (COUNTRY, ISO_3166_1, "Invalid ISO 3166-1 country code: '{}' is not a valid country "
                                  "code according to the ISO 3166-1 standard.")):
        for el in doc[tag]:
            text = _own_text(el)
            if text not in codes:
                _fail(el, message.format(text))


# --- pattern: relative uncertainty ---------------------------------------------------------------

def _xs_double(text: str) -> float | None:
    t = text.strip(" \t\n\r")
    if not _DOUBLE_RE.fullmatch(t):
        return None
    return float(t.replace("INF", "inf"))


def _divide(u: float, v: float) -> float:
    """IEEE division, as xs:double ``div`` (x div 0 is INF, -INF or NaN)."""
    if v == 0:
        if u == 0 or math.isnan(u):
            return math.nan
        return math.copysign(math.inf, u) * math.copysign(1.0, v)
    return u / v


def _double_str(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "NaN"
    return ("-INF" if x < 0 else "INF") if math.isinf(x) else repr(x)


def _relative_uncertainty(doc: _Doc) -> None:
    """PTB: "This pattern validates relative uncertainty values and their relationships with
    expanded uncertainty."  Errors, in PTB's order:

    on a ``dcc:quantity`` — (1) a ``dcc:relativeUncertainty/dcc:relativeUncertaintyXmlList``
    without ``si:realListXMLList/si:expandedUncXMLList``; (2) a single relative uncertainty
    without ``si:real/si:expandedUnc``; (3) a single relative uncertainty with a value list;
    (4) a relative uncertainty list with a single value; (5) a single relative uncertainty whose
    ``si:value`` is not (as xs:double, compared exactly) ``si:real/si:expandedUnc/si:uncertainty
    div si:real/si:value``;
    on a ``dcc:relativeUncertainty`` — more than one relative uncertainty value but not as many
    as the preceding ``si:realListXMLList/si:valueXMLList`` has values;
    on a ``si:realListXMLList`` — more than one ``si:expandedUncXMLList/si:uncertaintyXMLList``
    value but not as many as its ``si:valueXMLList`` has.

    Literal: PTB's "single relative uncertainty" path is ``dcc:relativeUncertainty/
    dcc:relativeUncertainty``, but DCC 3.3.0 names that element ``dcc:relativeUncertaintySingle``
    — so (2), (3) and (5) never fire on a schema-valid DCC; and (1) looks for the older
    ``si:expandedUncXMLList``, not ``si:measurementUncertaintyUnivariateXMLList``.  Where (1)
    applies it fires before (4)."""
    seen: set[etree._Element] = set()
    for rel in doc[REL_UNC]:
        q = rel.getparent()
        if q.tag != QUANTITY or q in seen:
            continue
        seen.add(q)
        n_list = len(_grandchildren(q, REL_UNC, REL_UNC_LIST))
        singles = _grandchildren(q, REL_UNC, REL_UNC)
        reals = _children(q, SI_REAL)
        values = [v for r in reals for v in r if v.tag == SI_VALUE]
        n_value_lists = len(_grandchildren(q, REAL_LIST, VALUE_LIST))
        expanded = [e for r in reals for e in r if e.tag == SI_EXPANDED_UNC]
        if ((n_list == 1 and not _grandchildren(q, REAL_LIST, EXPANDED_UNC_LIST))
                or (len(singles) == 1 and not expanded)):
            _fail(q, "Missing expanded uncertainty: Relative uncertainty is provided but "
                     "corresponding expanded uncertainty is missing.")
        if n_list == 0 and len(singles) == 1 and n_value_lists == 1 and not values:
            _fail(q, "Inconsistent data format: Value list requires relative uncertainty list, "
                     "not single relative uncertainty value.")
        if n_list == 1 and not singles and n_value_lists == 0 and len(values) == 1:
            _fail(q, "Inconsistent data format: Single value requires single relative "
                     "uncertainty, not relative uncertainty list.")
        rel_values = [v for s in singles for v in s if v.tag == SI_VALUE]
        uncs = [u for e in expanded for u in e if u.tag == SI_UNCERTAINTY]
        if len(rel_values) == 1 and uncs and values:
            r_text = _string(rel_values[0])
            r = _xs_double(r_text)
            u, v = _xs_double(_string(uncs[0])), _xs_double(_string(values[0]))
            quotient = _divide(u, v) if u is not None and v is not None else None
            if r is None or quotient is None or r != quotient:   # a failed cast is an XPath error
                _fail(q, f"Incorrect relative uncertainty calculation: The relative uncertainty "
                         f"value ({r_text}) does not match the calculation (uncertainty/value = "
                         f"{_double_str(quotient)}).")
    for rel in doc[REL_UNC]:
        n_rel = len(_tokens(_first_string(_grandchildren(rel, REL_UNC_LIST, VALUE_LIST))))
        if n_rel > 1:
            prev = [v for r in rel.itersiblings(REAL_LIST, preceding=True) for v in r
                    if v.tag == VALUE_LIST]
            n_values = len(_tokens(_first_string(prev)))
            if n_values != n_rel:
                _fail(rel, f"Count mismatch: The number of relative uncertainty values ({n_rel}) "
                           f"must match the number of measurement values ({n_values}) when not "
                           "using a constant uncertainty.")
    for real_list in doc[REAL_LIST]:
        uncs = _grandchildren(real_list, EXPANDED_UNC_LIST, UNCERTAINTY_LIST)
        if len(uncs) == 1:
            n_unc = len(_tokens(_string(uncs[0])))
            n_values = len(_tokens(_first_string(_children(real_list, VALUE_LIST))))
            if n_unc > 1 and n_unc != n_values:
                _fail(real_list, f"Count mismatch: The number of expanded uncertainty values "
                                 f"({n_unc}) must match the number of measurement values "
                                 f"({n_values}) when not using constant uncertainty.")


# --- pattern: units ------------------------------------------------------------------------------

def _units(doc: _Doc) -> None:
    """PTB: "This pattern validates units and unit lists to ensure proper formatting and
    consistency."  Errors: a ``si:real/si:unit`` containing a space; a ``si:unitXMLList`` with
    more than one unit (``tokenize(., ' ')``) but not one per value of the preceding
    ``si:valueXMLList``.  Literal: PTB counts the values with the one-argument ``tokenize()``
    (XPath 3.1: split on whitespace runs) and reports the two-argument count in its message.
    The warning for a list of identical units is not enforced."""
    for unit in doc[SI_UNIT]:
        if unit.getparent().tag == SI_REAL:
            text = _string(unit)
            if " " in text:
                _fail(unit, f"Invalid unit format: Units cannot contain spaces. Found '{text}'.")
    for units in doc[UNIT_LIST]:
        n_units = len(_tokens(_string(units)))
        if n_units > 1:
            values = _first_string(units.itersiblings(VALUE_LIST, preceding=True))
            if n_units != len(_WORD_RE.findall(values)):
                _fail(units, f"Unit count mismatch: If units vary across values, you must "
                             f"provide a unit for each value. Found {n_units} units for "
                             f"{len(_tokens(values))} values.")


# --- pattern: non-SI units -----------------------------------------------------------------------

def _non_si_units(doc: _Doc) -> None:
    """PTB: "This pattern validates that non-SI units are properly declared before use."
    Errors: a ``si:hybrid/si:real/si:unit`` starting with ``|`` (``matches(text(), '^\\|.+')``)
    that is not the text of some ``dcc:statement/dcc:nonSIUnit``; a ``dcc:nonSIUnit`` without
    exactly one preceding sibling ``dcc:nonSIDefinition``; a ``dcc:nonSIDefinition`` without
    exactly one following sibling ``dcc:nonSIUnit``.  Literal: only units in a ``si:hybrid`` are
    checked, and only declarations directly under ``dcc:statement`` count."""
    declared = {_string(u) for u in doc[NON_SI_UNIT] if u.getparent().tag == STATEMENT}
    for unit in doc[SI_UNIT]:
        real = unit.getparent()
        if real.tag == SI_REAL and real.getparent().tag == SI_HYBRID:
            text = _own_text(unit)
            if text not in declared and _NON_SI_RE.match(text):
                _fail(unit, f"Undeclared non-SI unit: The unit '{text}' appears to be a non-SI "
                            "unit but is not declared in the dcc:nonSIUnit statements.")
    for unit in doc[NON_SI_UNIT]:
        if sum(1 for _ in unit.itersiblings(NON_SI_DEFINITION, preceding=True)) != 1:
            _fail(unit, f"Missing non-SI unit definition: The non-SI unit '{_own_text(unit)}' must "
                        "have a corresponding definition in dcc:nonSIDefinition.")
    for definition in doc[NON_SI_DEFINITION]:
        if sum(1 for _ in definition.itersiblings(NON_SI_UNIT)) != 1:
            _fail(definition, "Missing non-SI unit declaration: The non-SI unit definition must "
                              "have a corresponding unit declaration in dcc:nonSIUnit.")


# --- pattern: duplicate language declarations ----------------------------------------------------

def _duplicate_languages(doc: _Doc) -> None:
    """PTB: "This pattern validates that language codes are not declared multiple times."
    Error: a ``dcc:usedLangCodeISO639_1`` whose text equals that of a sibling
    ``dcc:usedLangCodeISO639_1`` (reported at the first of them).  Note that the language
    pattern's count rule already fails any element with lang-tagged contents when a code is
    declared twice, so this rule is reached only by documents without such contents."""
    seen: dict[tuple[etree._Element, str], int] = {}
    els = doc[USED_LANG]
    for el in els:
        text = _own_text(el)
        if text:
            key = (el.getparent(), text)
            seen[key] = seen.get(key, 0) + 1
    for el in els:
        text = _own_text(el)
        if text and seen[(el.getparent(), text)] > 1:
            _fail(el, f"Duplicate language code: The language code '{text}' is declared multiple "
                      "times. Each language code may only be declared once.")


# --- pattern: XML list formatting ----------------------------------------------------------------

def _xml_lists(doc: _Doc) -> None:
    """PTB: "This pattern validates XML list formatting to ensure proper spacing between
    entries. XML lists must contain exactly one space between entries, no leading/trailing
    spaces, and no multiple consecutive spaces."  Error: the string value of each list in
    :data:`XML_LISTS`, and each ``@refType`` and ``@refId``, fails ``^([^\\s]+\\s)*([^\\s]+)$``
    (so one tab or newline between entries is accepted; an empty list is not).  PTB's messages
    are completed with the offending value.

    PTB's contexts ``dcc:dateTimeXMLListType`` and
    ``dcc:stringConformityStatementStatusXMLListType`` name XSD types, so literally (Saxon is
    not schema-aware) they match no element of a DCC; here they are applied, as evidently
    intended, also to the elements of those types, ``dcc:dateTimeXMLList`` and
    ``dcc:conformityXMLList`` — stricter than PTB's validator for those two elements."""
    for tag, subject in XML_LISTS.items():
        for el in doc[tag]:
            text = _string(el)
            if not _well_spaced(text):
                _fail(el, f"Invalid list formatting: {subject} {_SPACING} Found: {_show(text)}.")
    for attrs, name in ((doc.ref_types, "refType"), (doc.ref_ids, "refId")):
        for value in attrs:
            if not _well_spaced(value):
                _fail(value.getparent(), f"Invalid attribute formatting: The {name} attribute "
                                         f"'{value}' {_SPACING}")


PATTERNS: tuple[Callable[[_Doc], None], ...] = (
    _used_methods, _influence_conditions, _id_references, _languages, _performance_dates,
    _software_release, _iso_codes, _relative_uncertainty, _units, _non_si_units,
    _duplicate_languages, _xml_lists)
"""PTB's patterns with error rules, in the order of dcc.sch (usedSoftware and schema version,
which have none, left out)."""


def check(root: etree._Element) -> None:
    """Apply PTB's error-role Schematron rules to a parsed DCC; raise
    ``AdmissionError("schematron", "line N: ...")`` for the first failure."""
    doc = _Doc(root)
    for pattern in PATTERNS:
        pattern(doc)
