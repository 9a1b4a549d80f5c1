"""What a certificate calls its quantities, by the direction of the calibration.

A meter under test has an *error of indication* (mean indication − reference value); a source
under test an *error of the output setting* (setting − the reference meter's mean reading,
corrected): the PDF, the DCC and the JSON name them so (``CalibrationResult.measurement_model``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wording:
    error: str            # "Error of indication"
    mean: str             # the column of the mean reading
    nominal: str          # the column of the nominal value
    subject: str          # what the item's figure shows, in a sentence
    readback: str = "Mean readback of the source"   # a readback point's own indication


WORDINGS = {
    "error of indication": Wording("Error of indication", "Mean indication", "Nominal value",
                                   "error of indication"),
    "error of output": Wording("Error of the output setting",
                               "Mean reading of the reference meter", "Setting",
                               "error of the output setting"),
}


def wording(measurement_model: str) -> Wording:
    """The words for ``measurement_model`` (labauto.models names); a meter's by default."""
    return WORDINGS.get(measurement_model, WORDINGS["error of indication"])


def in_words(text: str, measurement_model: str) -> str:
    """``text`` (a decision rule's description, written for a meter) with the item's error
    named as ``measurement_model`` calls it."""
    return text.replace("error of indication", wording(measurement_model).subject)
