"""The verification page and the capability search page in a real browser: Debian's headless
Chromium driven by Playwright (SQLite and PostgreSQL).

Without Chromium or Playwright the tests skip on a developer machine and FAIL in CI
(LABAUTO_REQUIRE_POSTGRES=1 or CI set): `.ci/run` installs Debian's chromium.  Screenshots go to
the test's tmp folder, and to $LABAUTO_SCREENSHOT_DIR when set (to look at them)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from platform_support import make_lab
from scope_support import lab_id, make_body, with_results

CHROMIUM = os.environ.get("LABAUTO_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SCOPE = """quantity,range_min,range_max,frequency_min,frequency_max,conditions,cmc,k
DC voltage,100 mV,10 V,,,,2 µV/V + 1 µV,2
DC voltage,10 V,1000 V,,,,3 µV/V + 10 µV,2
AC voltage,10 mV,10 V,40 Hz,1 kHz,,100 µV/V + 5 µV,2
"""


def _unavailable(reason: str) -> None:
    if os.environ.get("LABAUTO_REQUIRE_POSTGRES") == "1" or os.environ.get("CI"):
        pytest.fail(f"the browser tests must run in CI but {reason} (.ci/run installs Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def _shot(pg, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
    if os.environ.get("LABAUTO_SCREENSHOT_DIR"):
        shutil.copy(path, Path(os.environ["LABAUTO_SCREENSHOT_DIR"]) / path.name)


@pytest.fixture
def published(platform, lab, make_dcc, sign, other_lab_keys):
    body = make_body(platform)
    assert body.import_scope(lab_id(platform, lab.name), SCOPE, valid_from="2026-01-01").status_code == 201
    lab_b = make_lab(platform, "Lab B <script>", "D-K-2", other_lab_keys)
    assert body.import_scope(lab_id(platform, lab_b.name), SCOPE.replace("2 µV/V + 1 µV", "4 µV/V + 5 µV"),
                             valid_from="2026-01-01").status_code == 201
    dcc = with_results(make_dcc("BRW-1", end_date="2026-06-15"), [
        {"nominal": "10 V", "U": "25 µV"},
        {"function": "ACV", "nominal": "1 V", "U": "200 µV", "frequency": "1 kHz"},
        {"nominal": "2000 V", "U": "100 mV"}])
    assert lab.publish(sign(dcc, lab.keys)).status_code == 201
    return platform


def test_verification_page_shows_accreditation_per_result(page, published, tmp_path):
    page.goto(f"{published.base_url}/verify/BRW-1")
    assert page.locator("p.status").inner_text() == "VALID"
    assert page.locator("#accreditation-status .badge").first.inner_text() == "PARTLY COVERED BY ACCREDITATION"
    rows = page.locator("#results tbody tr")
    assert rows.count() == 3
    cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(3)]
    assert cells[0][:5] == ["P1: DCV 10 V", "DC voltage", "10 V", "25 µV (k = 2)", "21 µV"]
    assert cells[1][2] == "1 V at 1 kHz" and cells[1][4] == "105 µV"
    assert [c[5].splitlines()[0] for c in cells] == ["COVERED", "COVERED", "NOT COVERED BY ACCREDITATION"]
    assert "no DC voltage row covers 2 kV" in cells[2][5]
    # the badge colours people read: green covered, grey not covered
    colours = [rows.nth(i).locator(".badge").evaluate("e => getComputedStyle(e).backgroundColor") for i in range(3)]
    assert colours == ["rgb(10, 125, 50)", "rgb(10, 125, 50)", "rgb(85, 85, 85)"]
    _shot(page, tmp_path, f"verify-{published.database_url.split(':')[0]}")


def test_capability_search_page(page, published, tmp_path):
    page.goto(f"{published.base_url}/search")
    page.select_option("#quantity", "DC voltage")
    page.fill("#value", "10 V")
    page.fill("#max_cmc", "5 µV/V")
    page.click("#go")
    page.wait_for_selector("#capabilities")
    assert page.locator("#count").inner_text() .startswith("2 accredited capabilities for DC voltage")
    rows = page.locator("#capabilities tbody tr")
    assert [rows.nth(i).locator("td").nth(0).inner_text() for i in range(rows.count())] == ["Lab A", "Lab B <script>"]
    assert rows.nth(0).locator("td").nth(4).inner_text() == "21 µV"
    assert page.locator("#value").input_value() == "10 V"          # the form keeps what was asked
    _shot(page, tmp_path, f"search-labs-{published.database_url.split(':')[0]}")

    page.fill("#max_cmc", "3 µV/V")
    page.click("#go")
    page.wait_for_selector("#capabilities")
    assert page.locator("#capabilities tbody tr").count() == 1

    page.fill("#value", "10 A")
    page.click("#go")
    assert "is not a DC voltage" in page.locator("#error").inner_text()

    # certificates with DC voltage results between 5 V and 20 V, then follow the link
    page.select_option("#what", "certificates")
    page.fill("#value_min", "5 V")
    page.fill("#value_max", "20 V")
    page.click("#go")
    page.wait_for_selector("#certificates")
    assert page.locator("#count").inner_text() == "1 certificate(s)"
    _shot(page, tmp_path, f"search-certificates-{published.database_url.split(':')[0]}")
    page.click("#certificates a")
    page.wait_for_url("**/verify/BRW-1")
    assert page.locator("h1").inner_text() == "Calibration certificate BRW-1"
