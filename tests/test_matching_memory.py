"""Peak memory per stretch of work: the high-water mark is set back at each start."""
import numpy as np

from matching.memory import peak_mb, reset_peak


def test_a_stretch_reports_its_own_peak_not_the_processes():
    reset_peak()
    big = np.ones(64 * 1024 * 1024 // 8)        # 64 MB touched
    with_big = peak_mb()
    del big
    reset_peak()
    after = peak_mb()
    assert with_big - after > 40
