import pandas as pd

from schemas import identifiers as ids


def s(*values):
    return pd.Series(list(values), dtype=object)


def test_nhs_number_modulus_11():
    values, valid = ids.nhs_number(s("401 023 2137", "4010232138", "123", None))
    assert valid.tolist() == [True, False, False, False]
    assert values[0] == "4010232137"


def test_nhs_number_check_of_ten_is_invalid():
    # digits whose weighted sum leaves remainder 1 need check 10: never valid
    body = "000000001"  # weight 2 * 1 = 2 -> 11 - 2 = 9; find one giving 10
    for n in range(10**8, 10**8 + 200):
        d = list(map(int, f"{n:09d}"))
        if (11 - sum(x * w for x, w in zip(d, range(10, 1, -1))) % 11) == 10:
            body = f"{n:09d}"
            break
    _, valid = ids.nhs_number(s(body + "0", body + "1"))
    assert not valid.any()


def test_ni_number_format_and_prefixes():
    values, valid = ids.ni_number(s("ab 12 34 56 c", "QQ123456A", "AO123456A", "GB123456A", "AB123456E", "AB12345C"))
    assert valid.tolist() == [True, False, False, False, False, False]
    assert values[0] == "AB123456C"


def test_upn_check_letter_reference_example():
    # criteria-and-identifiers.md: B801200005001 -> check letter B
    _, valid = ids.upn(s("B801200005001", "C801200005001", "B80120000500"))
    assert valid.tolist() == [True, False, False]
    assert ids.upn_check_letter("801200005001") == "B"


def test_upn_vendor_example_correct_letter_is_p():
    assert ids.upn_check_letter("207000016049") == "P"


def test_uprn_digits_and_leading_zeros():
    values, valid = ids.uprn(s("000000199356", "199356.0", "12A", "0000", "1234567890123"))
    assert valid.tolist() == [True, True, False, False, False]
    assert values[0] == "199356" and values[1] == "199356"


def test_postcode_normalised_and_checked():
    values, valid = ids.postcode(s("sw1a1aa", " M1  1AA ", "EC1A 1BB", "ZZ99 3VZ", "QQ1 1AA", "AB1 2CI", "GIR0AA"))
    assert valid.tolist() == [True, True, True, True, False, False, True]
    assert values[:3].tolist() == ["SW1A 1AA", "M1 1AA", "EC1A 1BB"]
