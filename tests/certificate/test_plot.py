from __future__ import annotations

import io

from labauto.certificate.plot import error_plot


def test_png_is_deterministic_and_sized(cal_result):
    a = error_plot(cal_result)
    b = error_plot(cal_result)
    assert a[:8] == b"\x89PNG\r\n\x1a\n"
    assert a == b
    import matplotlib.image as mpimg
    img = mpimg.imread(io.BytesIO(a), format="png")
    # 5 ranges -> 2 rows x 3 columns at 7 in x 4.8 in, 150 dpi
    assert img.shape[:2] == (720, 1050)
