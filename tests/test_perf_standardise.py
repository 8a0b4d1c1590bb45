"""Bulk standardisation (text cleaning of many addresses at once) agrees with the
one-value functions, including on awkward characters."""
import numpy as np

from matching.standardise import _many_address_parts, address_parts, fold

PIECES = ["12", "3", "a", "B", "flat", "Flat 2,", "st", "Rd", "high", "street", "park", "avenue", "bd7 1ab",
          "BD71AB", "bd7\x0b1ab", "12\x1ca", "12\ta", "12 a", "o'neill", "d`arcy", "ö", "Æ", "\xa0", "\u2003",
          "-", ",", "  ", "\n", "x9 9zz", "m1 1aa", "no.", "7b", "ß", "ŁÓDŹ", "12\u2003b", "ab1\x0c2cd"]


def test_bulk_address_parts_match_one_by_one():
    rng = np.random.default_rng(3)
    raws = [" ".join(rng.choice(PIECES, size=int(rng.integers(1, 9)))) for _ in range(3000)]
    raws += ["", "   ", None, "Flat 1, 21 Whetley Lane, Great Horton", "3 12 High Street"]
    assert _many_address_parts(raws) == [address_parts(r) for r in raws]


def test_fold_ascii_shortcut_is_plain_lower_case():
    for s in ["  Abc ", "O'BRIEN", "x\ty", ""]:
        assert fold(s) == s.lower().strip()
    assert fold("Zoë Łukasz") == "zoe lukasz"
