"""Stem conduction (immersion error) of a metal-sheathed probe in a stirred liquid bath.

Heat flowing along the sheath between the medium and the room makes the sensing element read
between the two.  The error decreases exponentially with the length immersed beyond the
sensing element: "the error is shown to decrease exponentially with L1/l1, where L1 is the
'immersion' depth and l1 a characteristic length depending on thermocouple parameters and the
mode of heat transfer" (Rev. Sci. Instrum. 32, 313 (1961), "Analysis of Immersed Thermocouple
Error", abstract); T. W. Kerlin, *Practical Thermocouple Thermometry* (ISA 1999) p. 47 eq. 3.8,
as the CRAN package thermocouple transcribes it (ThermocoupleStemLossErrorEstimate), treats
the sheath as a fin: 2F / ((1 + F) e^(αL) − (1 − F) e^(−αL)), which falls as e^(−αL).  So, as a fraction of
the difference between the room and the medium,

    t_element − t_medium = (t_room − t_medium) · exp(−x/ℓ),     x = depth − sensing length,

with ℓ (the decay length) proportional to the sheath's diameter D.  ℓ/D from the published
rules for stirred liquid baths, each read through this model (``x`` in diameters, the error as
a fraction of t_medium − t_room):

* NPL, good-practice module "Measurements in liquids", tip 1: a probe immersed, beyond its
  sensing element, by at least 20 diameters has an immersion error "no more than 0.1 %":
  exp(−20 D/ℓ) ≤ 10⁻³, ℓ ≤ 20 D / ln 1000 = 2.895 D (the largest ℓ the rules allow);
* a calibration laboratory's rules of thumb for a liquid bath (panrantemperaturecalibration.com,
  Blog-Details?article_id=2394, "our temperature calibration lab people gave these rules of
  thumb"): 1 % at 5 diameters, 0.01 % at 10, 0.0001 % at 15 (each plus the sensing length):
  ℓ = 5 D / ln 100 = 1.086 D, the same from all three rows (the page also cites a EURAMET
  recommendation of 15 diameters plus the sensing length).

The simulated lab draws the true ℓ per run uniformly within [1.086 D, 2.895 D]; the budget
bounds the error with the largest ℓ, at the room temperature farthest from the medium.  NPL's
tip 2 ("an increase of 50 % in the immersion depth could reduce the error by as much as a
factor of ten") cannot hold with tip 1 in this model (it would need ℓ ≥ 10 D / ln 10 =
4.34 D, so 1 % at 20 D); it is not used (docs/validation.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from labauto.errors import LabautoError

#: NPL tip 1: beyond the sensing element by this many diameters, at most this fraction
NPL_DIAMETERS, NPL_FRACTION = 20.0, 1e-3
#: the liquid-bath rules of thumb (panrantemperaturecalibration.com): (diameters beyond the
#: sensing element, fraction of the difference)
LAB_RULES = ((5.0, 1e-2), (10.0, 1e-4), (15.0, 1e-6))


def decay_length_per_diameter(diameters: float, fraction: float) -> float:
    """ℓ/D of the exponential model that gives ``fraction`` at ``diameters`` beyond the element."""
    return diameters / math.log(1.0 / fraction)


#: the range of ℓ/D the published rules give (see the module's docstring)
DECAY_PER_DIAMETER_MAX = decay_length_per_diameter(NPL_DIAMETERS, NPL_FRACTION)
DECAY_PER_DIAMETER_MIN = min(decay_length_per_diameter(n, f) for n, f in LAB_RULES)


@dataclass(frozen=True)
class ProbeImmersion:
    """How deep a probe is immersed (m): depth from the liquid's surface to the probe's tip, the
    length of its sensing element at the tip, its sheath's diameter; and the room's range (°C)
    the budget allows for."""

    depth_m: float
    sensing_length_m: float
    diameter_m: float
    room_min_c: float = 23.0
    room_max_c: float = 23.0

    def __post_init__(self) -> None:
        if not (self.depth_m > 0 and self.sensing_length_m >= 0 and self.diameter_m > 0):
            raise LabautoError("an immersion needs a positive depth and diameter")
        if self.beyond_m <= 0:
            raise LabautoError(f"immersed {self.depth_m * 1e3:g} mm, the sensing element "
                               f"({self.sensing_length_m * 1e3:g} mm) is not under the surface")
        if self.room_min_c > self.room_max_c:
            raise LabautoError("the room's range is empty")

    @property
    def beyond_m(self) -> float:
        """The length immersed beyond the sensing element (m)."""
        return self.depth_m - self.sensing_length_m

    @property
    def diameters(self) -> float:
        """:attr:`beyond_m` in sheath diameters."""
        return self.beyond_m / self.diameter_m

    @property
    def decay_range_m(self) -> tuple[float, float]:
        """The published range of the decay length ℓ for this sheath (m)."""
        return DECAY_PER_DIAMETER_MIN * self.diameter_m, DECAY_PER_DIAMETER_MAX * self.diameter_m

    def fraction(self, decay_length_m: float) -> float:
        """exp(−x/ℓ): the element's error as a fraction of t_room − t_medium."""
        return math.exp(-self.beyond_m / decay_length_m)

    def error(self, t_medium: float, t_room: float, decay_length_m: float) -> float:
        """t_element − t_medium (K) with decay length ``decay_length_m``."""
        return (t_room - t_medium) * self.fraction(decay_length_m)

    def bound(self, t_medium: float) -> float:
        """The largest |error| (K) at ``t_medium`` (°C): the largest published ℓ, the room's
        temperature farthest from the medium within its range."""
        far = max(abs(t_medium - self.room_min_c), abs(t_medium - self.room_max_c))
        return far * self.fraction(self.decay_range_m[1])
