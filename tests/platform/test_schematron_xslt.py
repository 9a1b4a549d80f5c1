"""The automatic rewrites of SchXslt's stylesheet (labauto/platform/server/schematron_xslt.py):
what they rewrite, and that they refuse what they could not rewrite without changing findings.
That the findings stay the same on PTB's examples, labauto's DCCs and a document per rule is
test_schematron.py's comparison with SchXslt's stylesheet as compiled."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from labauto.platform.server import schematron_xslt as sx

MEMO = f"Q{{{sx.MEMO}}}"


@pytest.mark.parametrize("pattern, select", [
    ("dcc:content[@lang]", "//dcc:content[@lang]"),
    ("//dcc:measurementResults//dcc:list[not(ancestor::dcc:metaData)]/dcc:quantity",
     "//dcc:measurementResults//dcc:list[not(ancestor::dcc:metaData)]/dcc:quantity"),
    ("dcc:coreData/dcc:endPerformanceDate", "//dcc:coreData/dcc:endPerformanceDate"),
    ("//*[dcc:content[@lang]]", "//*[dcc:content[@lang]]"),
    ("@refType", "//@refType"),
    ("/", "/"),
    ("x[contains(., ']')]", "//x[contains(., ']')]"),     # a bracket in a string literal
])
def test_a_path_pattern_selects_what_it_matches(pattern, select):
    assert sx._nodes_matching(pattern) == select


@pytest.mark.parametrize("pattern", [
    "a | b",                        # a union: not rewritten (it would be, as //(a|b); kept simple)
    "x[@a = current()/@b]",         # current() is the matched node in a pattern, not in a select
    "key('k', 'v')", "id('x')",     # not path patterns
    "x[1", "x]", "(a)/b",
])
def test_other_patterns_are_not_rewritten(pattern):
    assert sx._nodes_matching(pattern) is None


def test_matches_with_a_literal_regex_is_remembered_outside_string_literals():
    literals: dict[str, int] = {}
    out = sx._memoised("matches(., '^a$') and not(matches(text(), '^a$')) or matches(@x, \"b\")", literals)
    assert out == f"{MEMO}matches-0(.) and not({MEMO}matches-0(text())) or {MEMO}matches-1(@x)"
    assert literals == {"'^a$'": 0, '"b"': 1}
    # in a string literal, with a prefix, with flags or a computed regex: unchanged
    for expression in ("contains(., \"matches(., 'a')\")", "fn:matches(., 'a')", "matches(., 'a', 'i')",
                       "matches(., $re)", "my-matches(., 'a')"):
        assert sx._memoised(expression, literals) == expression


@pytest.fixture(scope="module")
def lean(dcc_schema_dir: Path) -> tuple[str, dict[str, int]]:
    from saxonche import PySaxonProcessor
    proc = PySaxonProcessor(license=False)
    return sx.lean_stylesheet(sx.schxslt_compile(proc, proc.new_xslt30_processor(), dcc_schema_dir / "dcc.sch"))


def test_one_mode_per_pattern_in_schxslts_pattern_order(lean):
    text, order = lean
    assert len(order) == 14                      # PTB's dcc.sch for DCC 3.3.0 has 14 patterns
    root = etree.fromstring(sx.pattern_mode_stylesheet(text, order).encode())
    x = f"{{{sx.XSL}}}"
    named = [t for t in root.findall(f"{x}template") if t.get("name")]
    assert [a.get("mode") for a in named[0]] == list(order)
    rules = [t for t in root.findall(f"{x}template") if t.get("mode") in order]
    assert len(rules) == 47                      # PTB's 47 rules, each in its pattern's mode
    assert not any(el.tag in (f"{x}next-match", f"{x}param") for t in rules for el in t.iter())
    assert all(len(t) == 0 for t in root.findall(f"{x}template") if t.get("mode") == "#all")
    assert len(root.findall(f"{x}function[@cache='yes']")) == 3      # PTB's three regular expressions


@pytest.mark.parametrize("change", [
    ("count(dcc:usedMethods)=0 and", "position() = 1 and"),    # a rule that sees the walk
    ('<xsl:template match="dcc:content"', '<xsl:template match="dcc:content | dcc:name"'),
    ('mode="#all" priority="-10"/>', 'mode="#all" priority="-10"><xsl:message/></xsl:template>'),
])
def test_a_stylesheet_it_could_change_stays_lean(lean, change):
    text, order = lean
    assert change[0] in text
    assert sx.pattern_mode_stylesheet(text.replace(change[0], change[1], 1), order) is None


def test_a_rewrite_that_does_not_compile_leaves_the_lean_stylesheet(dcc_schema_dir: Path, dcc_dir: Path,
                                                                     monkeypatch):
    from labauto.platform.server import schematron
    from labauto.platform.server.dcc import parse_well_formed

    def broken(text, order):     # a use of the removed bookkeeping parameter: does not compile
        return text.replace("<xsl:variable name=\"refIds\"", "<xsl:variable name=\"x\" select=\"$nowhere\"/>"
                            "<xsl:variable name=\"refIds\"", 1)
    monkeypatch.setattr(schematron, "pattern_mode_stylesheet", broken)
    book = schematron.RuleBook(dcc_schema_dir, processes=0)
    assert book.lean is True and book.pattern_modes is False
    report = book.check(parse_well_formed((dcc_dir / "examples" / "invalid_schematron.xml").read_bytes()), "3.3.0")
    assert report.errors
