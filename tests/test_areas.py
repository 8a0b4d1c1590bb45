"""Areas with denominators: families, eligible families, the rate per 100 families and each
criterion by postcode district and by the council's area lookup, small cells suppressed in every
column; a malformed area lookup stops the run naming its file, row and column."""
import dataclasses

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.areas import read_area_lookup
from pipeline.cli import main
from reports.html import family_areas, suppressed_column
from schemas.errors import InputDataError
from tests.test_report import check_document, hand_built, render


def test_each_column_is_suppressed_so_small_counts_cannot_be_worked_out():
    assert suppressed_column([12, 3, 7, 0]) == ["12", "<5", "not shown", "0"]
    assert suppressed_column([12, 3, 4, 0]) == ["12", "<5", "<5", "0"]
    assert suppressed_column([12, 6, 0]) == ["12", "6", "0"]


def record_with_areas():
    fams = ([{"district": "LS6", "eligible": 1, "crime_asb": 1, "education": 1}] * 6
            + [{"district": "LS6", "eligible": 0}] * 14
            + [{"district": "LS7", "eligible": 1, "crime_asb": 1, "worklessness": 1}] * 5
            + [{"district": "LS7", "eligible": 0}] * 5)
    record = hand_built(families=fams)
    members = record.linkage.members.copy()
    fam_no = members["family_id"].str[1:].astype(int)
    # families 1-20 in LS6 (two wards by family number), 21-30 in LS7; family 30 has a postcode the lookup lacks
    members["postcode"] = [("LS6 1AA" if n <= 10 else "LS6 2BB") if n <= 20 else ("LS7 3CC" if n < 30 else "LS7 9ZZ")
                           for n in fam_no]
    lookup = pd.DataFrame({"postcode": ["LS61AA", "LS62BB", "LS73CC"], "area_code": ["E05000001", "E05000002", "E05000003"],
                           "area_name": ["Hyde Park", "Headingley", "Chapel Allerton"]})
    linkage = dataclasses.replace(record.linkage, members=members)
    return dataclasses.replace(record, linkage=linkage, area_lookup=lookup)


def rates_rows(visible: str, caption: str) -> str:
    start = visible.index(caption)
    return visible[start:visible.index("All areas", start) + 60]


def test_rates_by_district_and_by_area_with_denominators():
    record = record_with_areas()
    doc = check_document(render(record))
    visible = " ".join(doc.visible.split())
    districts = rates_rows(visible, "Families, eligible families and each criterion by postcode district")
    # LS6: 20 families, 6 eligible, 30.0 per 100; crime 6, education 6, worklessness 0, abuse 0
    assert "LS6 20 6 30.0 6 6 0 0" in districts
    assert "LS7 10 5 50.0 5 0 5 0" in districts
    assert "All areas 30 11 36.7 11 6 5 0" in districts
    areas = rates_rows(visible, "by area (the council's area lookup)")
    # Hyde Park: families 1-10, all six eligible ones
    assert "Hyde Park (E05000001) 10 6 60.0 6 6 0 0" in areas
    assert "Headingley (E05000002) 10 0 0.0 0 0 0 0" in areas
    # Chapel Allerton: 9 families, 5 eligible; the tenth is not in the lookup, a small cell, so
    # the next smallest count of families is held back too (else 30 - 10 - 10 - 9 gives it), and
    # the rate with it
    assert "Chapel Allerton (E05000003) not shown 5 not shown 5 0 5 0" in areas
    assert "not in the area lookup <5 0 not shown" in areas
    assert "1 family had a postcode the area lookup does not hold" in visible


def test_a_family_s_area_is_that_of_its_commonest_postcode():
    members = pd.DataFrame({"family_id": ["F1", "F1", "F1", "F2", "F3"],
                            "postcode": ["ls6 1aa", "LS6 2BB", "LS61AA", None, "ZZ1 1ZZ"]})
    lookup = pd.DataFrame({"postcode": ["LS61AA", "LS62BB"], "area_code": ["E1", "E2"], "area_name": ["A", "B"]})
    area, missing = family_areas(pd.Series(["F1", "F2", "F3"]), members, lookup)
    assert area.tolist() == ["A (E1)", "not known", "not in the area lookup"] and missing == 1


@pytest.mark.parametrize("text, where", [
    ("postcode,area_name\nLS6 1AA,Hyde Park\n", "lacks column(s) area_code"),
    ("postcode,area_code\nLS6 1AA,E1\n,E2\n", "row 3, column postcode: blank"),
    ("postcode,area_code\nLS6 1AA,E1\nLS6 X,E2\n", "row 3, column postcode: not a full UK postcode"),
    ("postcode,area_code\nLS6 1AA,E1\nLS6 2BB,\n", "row 3, column area_code: blank"),
    ("postcode,area_code\nLS6 1AA,E1\nLS62BB,E1\nls6 1aa,E2\n", "row 4, column postcode: the postcode is given another area"),
    ("postcode,area_code\n", "no data rows"),
])
def test_a_malformed_area_lookup_is_refused_naming_row_and_column(tmp_path, text, where):
    path = tmp_path / "areas.csv"
    path.write_text(text)
    with pytest.raises(InputDataError) as err:
        read_area_lookup(path)
    assert str(err.value).startswith(str(path)) and where in str(err.value)
    assert "LS6" not in str(err.value).replace(str(path), "")       # never a value


def test_the_same_postcode_twice_in_one_area_is_fine(tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text("postcode,area_code,area_name\nLS6 1AA,E1,Hyde Park\nls61aa,E1,Hyde Park\n")
    assert read_area_lookup(path).values.tolist() == [["LS61AA", "E1", "Hyde Park"]]


def test_a_run_with_a_malformed_area_lookup_exits_3_before_any_work(housing_config):
    (housing_config.parent / "areas.csv").write_text("postcode,area_code\nLS6 1AA,E1\nnot a postcode,E2\n")
    with open(housing_config, "a") as fh:
        fh.write("report:\n  area_lookup: areas.csv\n")
    out = housing_config.parent / "o"
    r = CliRunner().invoke(main, ["run", "--config", str(housing_config), "--out", str(out)])
    assert r.exit_code == 3, r.output
    assert "areas.csv, row 3, column postcode: not a full UK postcode" in r.output
    assert not out.exists()


def test_a_missing_area_lookup_is_a_config_error(housing_config):
    with open(housing_config, "a") as fh:
        fh.write("report:\n  area_lookup: nowhere.csv\n")
    r = CliRunner().invoke(main, ["run", "--config", str(housing_config), "--out", str(housing_config.parent / "o")])
    assert r.exit_code == 2 and "report.area_lookup" in r.output and "area lookup not found" in r.output
