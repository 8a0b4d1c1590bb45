"""Peak memory per stretch of work: the high-water mark is set back at each start."""
import numpy as np

from matching.memory import Stretch


def test_a_stretch_reports_its_own_peak_not_the_processes():
    first = Stretch()
    big = np.ones(64 * 1024 * 1024 // 8)        # 64 MB touched
    with_big = first.stop()
    del big
    after = Stretch().stop()
    assert with_big - after > 40


def test_an_outer_stretch_covers_the_peaks_of_the_ones_inside_it():
    stage = Stretch()
    step = Stretch()
    big = np.ones(64 * 1024 * 1024 // 8)
    step_peak = step.stop()
    del big
    quiet_step = Stretch()
    assert step_peak - quiet_step.stop() > 40
    assert stage.stop() >= step_peak - 1          # (what the two reads themselves allocate)


def test_freed_blocks_go_back_to_the_system():
    from matching.memory import release_free_memory

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    # blocks glibc keeps for reuse when freed (over Python's own small-object size), a few left
    held = [("x" * 600) + str(i) for i in range(300_000)]
    keep = held[::1000]
    del held
    before = rss_mb()
    release_free_memory()
    assert before - rss_mb() > 100 and len(keep) == 300
