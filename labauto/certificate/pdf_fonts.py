"""The certificate's typeface: DejaVu Sans, embedded (subset) in every PDF.

The PDF base-14 fonts (Helvetica, ...) have WinAnsi glyphs only: no superscript digits (``10⁻⁶``),
no ``Ω``, no ``≤``; reportlab draws such characters as black boxes.  DejaVu Sans covers them
and ships with matplotlib (``mpl-data/fonts/ttf``, Bitstream Vera licence), which labauto
already depends on for the error plot, so no system font package is needed.
"""
from __future__ import annotations

import functools
from pathlib import Path

REGULAR, BOLD, ITALIC, BOLD_ITALIC = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique",
                                      "DejaVuSans-BoldOblique")
FAMILY = "DejaVuSans"


def font_dir() -> Path:
    """matplotlib's folder of TrueType fonts (found without importing matplotlib)."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib is not installed: the certificate font (DejaVu Sans) "
                           "comes with it; reinstall labauto's dependencies")
    return Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf"


def font_file(name: str = REGULAR) -> Path:
    return font_dir() / f"{name}.ttf"


@functools.cache
def register_fonts() -> str:
    """Register the DejaVu Sans family with reportlab (once per process); returns its name."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name in (REGULAR, BOLD, ITALIC, BOLD_ITALIC):
        path = font_file(name)
        if not path.is_file():
            raise RuntimeError(f"certificate font {path} is missing (matplotlib's mpl-data); "
                               "reinstall matplotlib")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    addMapping(FAMILY, 0, 0, REGULAR)
    addMapping(FAMILY, 1, 0, BOLD)
    addMapping(FAMILY, 0, 1, ITALIC)
    addMapping(FAMILY, 1, 1, BOLD_ITALIC)
    return FAMILY
