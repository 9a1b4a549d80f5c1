"""The item's condition on receipt (ISO/IEC 17025 7.8.2.1 g)) travels from `labauto run` through
the run journal's settings to the result and every certificate file: stated with
--item-condition, answered at a terminal (the lab file's default offered), or — with --yes, in
the demo, without a terminal — the lab file's default, marked as not confirmed by a technician."""
from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from lxml import etree
from typer.testing import CliRunner

from labauto import cli
from labauto.engine.journal import RunJournal
from labauto.lab import DEFAULT_LAB_FILE, load_lab
from labauto.sim import SimulatedLab

runner = CliRunner()
DEFAULT = "no visible damage; self-test passed at power-on"     # labauto/data/lab.yaml
NOT_CONFIRMED = "(the laboratory's default statement, recorded without confirmation by a technician)"


@pytest.fixture(scope="module")
def sim_lab():
    with SimulatedLab(seed=5, latency="zero") as lab:
        yield lab


def _run(sim_lab, workdir: Path, *args: str, input: str | None = None):
    result = runner.invoke(cli.app, ["run", str(Path(__file__).parents[2] / "procedures" /
                                            "keysight_34465a_dcv_quick.yaml"),
                                     "--dut", sim_lab.resources["dmm"],
                                     "--standard", sim_lab.resources["calibrator"],
                                     "--no-prefect", "--no-publish", "--settle-scale", "0",
                                     "--workdir", str(workdir), *args],
                           input=input, terminal_width=200)
    assert result.exit_code == 0, result.output
    [folder] = (workdir / "certificates").iterdir()
    [journal] = (workdir / "runs").glob("*/journal.jsonl")
    settings = RunJournal(journal).read().header["settings"]
    pdf = pdfium.PdfDocument(folder / "certificate.pdf")
    text = " ".join(" ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))).split())
    ns = {"dcc": "https://ptb.de/dcc"}
    dcc = etree.parse(str(folder / "certificate.xml"))
    statement = dcc.findtext(".//dcc:statement[@refType='labauto_itemConditionOnReceipt']/"
                             "dcc:declaration/dcc:content", namespaces=ns)
    return (result.output, settings, json.loads((folder / "certificate.json").read_bytes()), text,
            statement)


def test_lab_file_offers_a_default():
    assert load_lab(DEFAULT_LAB_FILE).item_condition_default == DEFAULT


def test_yes_records_the_default_as_not_confirmed(sim_lab, tmp_path):
    out, settings, data, pdf_text, dcc = _run(sim_lab, tmp_path, "--yes")
    assert "recorded as not confirmed by a technician" in " ".join(out.split())
    assert (settings["item_condition"], settings["item_condition_confirmed"]) == (DEFAULT, False)
    assert (data["item_condition"], data["item_condition_confirmed"]) == (DEFAULT, False)
    assert f"Condition on receipt {DEFAULT} {NOT_CONFIRMED}" in pdf_text
    assert dcc == f"Condition of the item on receipt: {DEFAULT} {NOT_CONFIRMED}"


def test_the_technician_answers_at_a_terminal(sim_lab, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_at_terminal", lambda: True)
    out, settings, data, pdf_text, dcc = _run(sim_lab, tmp_path, input="scratch on the case\n")
    assert f"[{DEFAULT}]" in out                                # the lab's default is offered
    assert (data["item_condition"], data["item_condition_confirmed"]) == ("scratch on the case", True)
    assert settings["item_condition"] == "scratch on the case"
    assert "Condition on receipt scratch on the case Adjustment" in pdf_text
    assert dcc == "Condition of the item on receipt: scratch on the case"


def test_the_option_states_it(sim_lab, tmp_path):
    _, settings, data, pdf_text, dcc = _run(sim_lab, tmp_path, "--yes", "--item-condition",
                                            "front terminals worn")
    assert (data["item_condition"], data["item_condition_confirmed"]) == ("front terminals worn", True)
    assert settings["item_condition_confirmed"] is True
    assert "Condition on receipt front terminals worn Adjustment" in pdf_text
