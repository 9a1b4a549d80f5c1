"""The E36312A's readback points with the readback noise characterised (issue 16): the budget's
Type A and rounding rows from the characterisation (labauto.models.readback_noise), the file's
checks, ``labauto procedure characterise`` and the validation measuring its own."""
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labauto.errors import SourceError
from labauto.evaluation import evaluate_point
from labauto.models.quantisation import mean_variance
from labauto.models.readback_noise import load_readback_noise
from labauto.procedure import load_procedure

ROOT = Path(__file__).resolve().parents[2]
PROC = ROOT / "procedures" / "keysight_e36312a_verification.yaml"
NOISE = ROOT / "procedures" / "references" / "keysight-e36312a-readback-noise.yaml"
READINGS = [25.0021, 25.0022, 25.0021, 25.0020, 25.0021]       # the 3458A, V
READBACKS = [25.002] * 5                                          # equal: s = 0


def _rows(procedure):
    point = procedure.point("DCV-100V-+25V-ch2-readback")
    result = evaluate_point(point, procedure, READINGS, "V", readbacks=READBACKS)
    return {r.name: r for r in result.budget.rows}, result


def test_budget_takes_the_characterised_scatter_and_rounding():
    procedure = load_procedure(PROC)
    entry = procedure.readback_noise.entry_for("DCV", 2)
    assert entry.resolution.to("mV").m == 1.0
    sigma = entry.sigma.to("mV").m                   # 0.1899 mV, as the file states
    assert sigma == pytest.approx(0.189923)
    rows, result = _rows(procedure)
    u_rb = rows["X_rb"].standard_uncertainty.to("mV").m
    u_res = rows["dX_res"].standard_uncertainty.to("mV").m
    # σ = 0.1899 mV ahead of 1 mV steps, n = 5: W(σ) = 0.1072 mV², B(σ) = 0.01224 mV²
    assert u_rb == pytest.approx(math.sqrt(0.107165 / 5), rel=1e-4)          # 0.1464 mV
    assert u_res == pytest.approx(0.110629, rel=1e-4)
    assert u_rb ** 2 + u_res ** 2 == pytest.approx(mean_variance(1.0, sigma, 5), rel=1e-9)
    assert rows["X_rb"].distribution == "t" and rows["X_rb"].dof == pytest.approx(299.5, rel=1e-3)
    assert rows["dX_res"].distribution == "arcsine"
    assert "GUM 4.2.4" in rows["X_rb"].source
    assert result.budget.combined_uncertainty.to("mV").m == pytest.approx(0.246595, rel=1e-4)


def test_without_the_characterisation_equal_readbacks_take_the_whole_rounding():
    """What the budget did before: s = 0, so ±q/2 rectangular (0.2887 mV) and no Type A."""
    rows, result = _rows(replace(load_procedure(PROC), readback_noise=None))
    assert rows["X_rb"].standard_uncertainty.to("mV").m == 0.0
    assert rows["dX_res"].standard_uncertainty.to("mV").m == pytest.approx(1 / math.sqrt(12))
    assert result.budget.combined_uncertainty.to("mV").m == pytest.approx(0.332371, rel=1e-4)


def _copy(tmp_path: Path, noise_text: str | None = None) -> Path:
    shutil.copy(PROC, tmp_path / PROC.name)
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / NOISE.name).write_text(noise_text or NOISE.read_text())
    for shunt in (PROC.parent / "references").glob("shunt-*.yaml"):     # output 1's 5 A point
        shutil.copy(shunt, tmp_path / "references" / shunt.name)
    return tmp_path / PROC.name


def test_a_readback_point_without_its_entry_is_refused_by_line(tmp_path):
    text = "\n".join(line for line in NOISE.read_text().splitlines()
                     if "function: DCI, channel: 3" not in line) + "\n"
    with pytest.raises(SourceError) as exc:
        load_procedure(_copy(tmp_path, text))
    line = next(i for i, x in enumerate(PROC.read_text().splitlines(), 1)
                if "DCI, range: 1 A, nominal: 1 A, settings: {channel: 3}, readback" in x)
    assert f"{PROC.name}:{line}: point DCI-1A-+1A-ch3-readback" in str(exc.value)
    assert "no DCI entry for channel 3" in str(exc.value)


def test_a_characterisation_at_another_resolution_is_refused(tmp_path):
    text = NOISE.read_text().replace("channel: 1, resolution: 0.5 mV", "channel: 1, resolution: 1 mV")
    with pytest.raises(SourceError, match="characterised the readback at 1 mV steps, the model "
                                          "file states 0.5 mV"):
        load_procedure(_copy(tmp_path, text))


def test_a_bad_characterisation_file_names_its_line(tmp_path):
    text = NOISE.read_text().replace("sigma: 0.202305 mV", "sigma: 0.2 furlong")
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "furlong" in x)
    with pytest.raises(SourceError) as exc:
        load_readback_noise(_write(tmp_path, text))
    assert f"{NOISE.name}:{line}" in str(exc.value) and "sigma" in str(exc.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / NOISE.name
    path.write_text(text)
    return path


def test_the_validation_measures_its_own_characterisation(tmp_path):
    """labauto validate does not take σ from the file (nor from the simulator): it measures it
    on a simulated unit with the file's design; a file stating 5 mV still gives ≈ 0.2 mV."""
    from labauto.validation.montecarlo import characterised

    text = NOISE.read_text()
    for old in ("0.202305 mV", "0.189923 mV", "0.193026 mV"):
        text = text.replace(f"sigma: {old}", "sigma: 5 mV")
    text = text.replace("levels: 40, readings: 1000", "levels: 8, readings: 80")
    procedure = load_procedure(_copy(tmp_path, text))
    measured = characterised(procedure, seed=3).readback_noise
    for channel in (1, 2, 3):
        e = measured.entry_for("DCV", channel)
        assert e.levels == 8 and e.readings == 80
        assert 0.1 < e.sigma.to("mV").m < 0.3          # the simulated readback's 0.2 mV
    assert measured.path == procedure.readback_noise.path
    assert characterised(procedure, seed=3) is characterised(procedure, seed=3)   # once


def test_cli_characterises_on_the_simulated_lab(tmp_path):
    from labauto.procedure.cli import app

    out = tmp_path / "noise.yaml"
    result = CliRunner().invoke(app, ["characterise", str(PROC), "--simulated", "--seed", "4",
                                      "--levels", "4", "--readings", "10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    noise = load_readback_noise(out)
    assert (noise.model, noise.serial) == ("E36312A", "MY59001234")
    assert [(e.function, e.channel) for e in noise.entries] == [
        ("DCV", 1), ("DCI", 1), ("DCV", 2), ("DCI", 2), ("DCV", 3), ("DCI", 3)]
    assert all(e.readings == 40 and e.levels == 4 for e in noise.entries)
    assert "--simulated" in noise.measured


def test_cli_refuses_bad_options_with_exit_2(tmp_path):
    from labauto.procedure.cli import app

    runner = CliRunner()
    out = str(tmp_path / "x.yaml")
    assert runner.invoke(app, ["characterise", str(PROC), "--out", out]).exit_code == 2
    quick = ROOT / "procedures" / "keysight_34465a_dcv_quick.yaml"
    r = runner.invoke(app, ["characterise", str(quick), "--simulated", "--out", out])
    assert r.exit_code == 2 and "no readback point" in r.output


def test_bench_characterisation_over_scpi_confirms_each_connection(sim_lab_factory):
    """The bench path: DUT and standard opened by VISA resource under the instrument locks (the
    simulated lab on its sockets), the operator steps of each connection shown first, the
    supply's outputs off at the end."""
    from labauto.engine.characterise import characterise_on_bench

    procedure = load_procedure(PROC)
    lab = sim_lab_factory(PROC, seed=5)
    dut, standard = lab.dut_and_standard()
    shown: list[list[str]] = []
    noise = characterise_on_bench(procedure, dut, standard, connect=shown.append,
                                  sleep=lambda s: None, measured="test", levels=3, readings=4)
    assert [(e.function, e.channel, e.levels, e.readings) for e in noise.entries] == [
        (f, ch, 3, 12) for ch in (1, 2, 3) for f in ("DCV", "DCI")]
    assert noise.serial == "MY59001234"
    assert len(shown) == 6 and shown[0] == [procedure.points[0].steps[0].text]
    assert "load resistor" in shown[1][0] and "output 3" in shown[5][0]
    assert not any(c.on for c in lab.calibrator.channels.values())        # outputs off
