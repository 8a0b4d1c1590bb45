"""Ethnicity mapped onto the ONS 2021 categories before linkage quality is grouped by it: the
schools' codes and the police's free text for one community are one group."""
import pandas as pd
import pytest

from matching.ethnicity import GROUP_NOT_KNOWN, KNOWN_LABELS, ONS_2021, WHITE_BRITISH, to_ons_2021


def test_the_ons_scheme_has_its_19_categories():
    assert len(ONS_2021) == 19 and len(set(ONS_2021)) == 19


@pytest.mark.parametrize("recorded, ons", [
    ("WBRI", WHITE_BRITISH), ("White - British", WHITE_BRITISH), ("White British", WHITE_BRITISH),
    ("White: English, Welsh, Scottish, Northern Irish or British", WHITE_BRITISH), ("wbri ", WHITE_BRITISH),
    ("APKN", "Asian, Asian British or Asian Welsh: Pakistani"),
    ("Asian or Asian British - Pakistani", "Asian, Asian British or Asian Welsh: Pakistani"),
    ("ABAN", "Asian, Asian British or Asian Welsh: Bangladeshi"),
    ("Asian or Asian British - Bangladeshi", "Asian, Asian British or Asian Welsh: Bangladeshi"),
    ("BAFR", "Black, Black British, Black Welsh, Caribbean or African: African"),
    ("Black or Black British - African", "Black, Black British, Black Welsh, Caribbean or African: African"),
    ("WOTH", "White: Other White"), ("White - Any other White background", "White: Other White"),
    ("WIRI", "White: Irish"), ("White - Irish", "White: Irish"),
    ("WIRT", "White: Gypsy or Irish Traveller"), ("Irish Traveller", "White: Gypsy or Irish Traveller"),
    ("MWBC", "Mixed or Multiple ethnic groups: White and Black Caribbean"),
    ("Mixed - White and Black Caribbean", "Mixed or Multiple ethnic groups: White and Black Caribbean"),
    ("OARA", "Other ethnic group: Arab"), ("Arab", "Other ethnic group: Arab"),
    ("OOTH", "Other ethnic group: Any other ethnic group"),
    ("Any other ethnic group", "Other ethnic group: Any other ethnic group"),
    ("IC1", "White (group not known)"), ("IC3", "Black, Black British, Black Welsh, Caribbean or African (group not known)"),
    ("Refused", None), ("REFU", None), ("Not known", None), ("IC9", None), ("", None),
])
def test_each_scheme_maps_onto_the_ons_categories(recorded, ons):
    assert to_ons_2021(pd.Series([recorded])).iloc[0] == ons


def test_a_value_no_rule_knows_keeps_its_text():
    out = to_ons_2021(pd.Series(["Group A", None, "WBRI"]))
    assert out.tolist() == ["Group A", None, WHITE_BRITISH]
    assert "Group A" not in KNOWN_LABELS and set(GROUP_NOT_KNOWN) <= KNOWN_LABELS


def test_an_ons_label_a_council_mapped_to_is_kept():
    """A council's `values:` mapping is applied as the extract is read: its ONS labels stay."""
    assert to_ons_2021(pd.Series(list(ONS_2021))).tolist() == list(ONS_2021)


def test_the_report_lists_values_left_as_recorded():
    from tests.test_report import check_document, hand_built, render
    quality = pd.DataFrame({"group_type": ["ethnicity", "ethnicity"], "group": [WHITE_BRITISH, "Group A"],
                            "records": [40, 30], "persons": [20, 15], "single_record_share": [0.1, 0.1]})
    visible = " ".join(check_document(render(hand_built(quality=quality))).visible.split())
    assert "Ethnicity values with no ONS 2021 category, shown as recorded: Group A." in visible
