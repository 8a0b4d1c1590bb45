"""Service demand, its estimated cost and the rank: counts and costs checked by hand on small
frames (each measure, each window edge, a member who moved in), the ranking with ties, unit-cost
tables refused with the file, line and key, and the counts on the sample against its truth."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from criteria import parse_criteria, score_families
from criteria.demand import (MEASURE_NAMES, DemandSettings, count_demand, load_costs, load_deflators,
                             rank_families)
from schemas.errors import ConfigError
from tests.conftest import typed_extract

AS_OF = dt.date(2026, 9, 30)
SAMPLE = Path(os.environ.get("HNF_SAMPLE_DIR", Path(__file__).resolve().parents[1] / "sample_data"))

# The deflators by hand (criteria/costs/gdp_deflators.csv): HM Treasury financial years
# (2002-03 = 100) to 2008-09, the knoema calendar series (2020 = 100) linked to it at 2005.
HMT_1998, HMT_2005, HMT_2006 = 91.031, 107.812, 110.702
KNOEMA_2005, KNOEMA_2024, KNOEMA_2015 = 72.5, 117.3, 88.1
INDEX_2024 = KNOEMA_2024 * HMT_2005 / KNOEMA_2005
WARNING_2024 = 66 * INDEX_2024 / HMT_2006
ABC_2024 = 230 * INDEX_2024 / HMT_2006
BENEFIT_YEAR_2024 = 3850 * INDEX_2024 / HMT_1998


class Families:
    """Members in families and the records agencies hold about them."""

    def __init__(self):
        self.members: list[dict] = []
        self.rows: dict[str, list[dict]] = {}
        self.kinds: dict[str, str] = {}
        self.links: list[dict] = []

    def member(self, person, family):
        self.members.append({"family_id": family, "person_id": person})
        return self

    def add(self, source, kind, person, **fields):
        self.kinds[source] = kind
        rows = self.rows.setdefault(source, [])
        record_id = f"{source}-{len(rows) + 1}"
        rows.append({"record_id": record_id, "forename": "A", "surname": "B", **fields})
        self.links.append({"source": source, "record_id": record_id, "person_id": person})
        return self

    def count(self, settings=DemandSettings(), price_year=2024, costs="unit-costs-uk"):
        extracts = {s: typed_extract(self.kinds[s], rows) for s, rows in self.rows.items()}
        links = pd.DataFrame(self.links, columns=["source", "record_id", "person_id"])
        members = pd.DataFrame(self.members)
        return count_demand(extracts, self.kinds, links, members, AS_OF, settings, load_costs(costs, price_year))


def row(result, family):
    return result.family_demand.set_index("family_id").loc[family]


def test_each_window_edge_for_dated_records():
    f = Families().member("P1", "F1")
    for day in ("2025-09-30", "2025-10-01", "2026-09-30", "2026-10-01"):   # out, in, in, out
        f.add("police", "police", "P1", event_type="offence", role="offender", event_date=day)
    f.add("police", "police", "P1", event_type="offence", role="victim", event_date="2026-01-01")   # a victim
    f.add("police", "police", "P1", event_type="incident", role="witness", event_date="2026-01-01")
    r = f.count()
    assert r.window == (dt.date(2025, 10, 1), dt.date(2026, 9, 30))
    assert row(r, "F1")["police_offences"] == 2 and row(r, "F1")["police_incidents"] == 1


def test_asb_dv_and_housing_measures():
    f = Families().member("P1", "F1").member("P2", "F1")
    for intervention in ("warning", "warning", "abc", "cpn", "none"):
        f.add("asb", "asb", "P1", role="perpetrator", intervention=intervention, event_date="2026-03-01")
    f.add("asb", "asb", "P2", role="victim", intervention="warning", event_date="2026-03-01")   # not a case of theirs
    for risk in ("standard", "medium", "high", "high", None):
        f.add("dv", "dv", "P2", role="victim", risk_level=risk, event_date="2026-05-05")
    for event in ("tenancy", "arrears", "nosp", "homeless_application"):
        f.add("housing", "housing", "P1", event_type=event, event_date="2026-02-02")
    got = row(f.count(), "F1")
    assert (got["asb_cases"], got["asb_warnings"], got["asb_abcs"], got["asb_enforcement"]) == (5, 2, 1, 1)
    assert (got["dv_standard"], got["dv_medium"], got["dv_high"], got["dv_unknown_risk"]) == (1, 1, 2, 1)
    assert got["housing_actions"] == 3                                   # a tenancy is not an action
    assert got["cost_asb"] == round(2 * WARNING_2024 + ABC_2024)


def test_schools_over_the_last_three_complete_terms():
    f = Families().member("C1", "F1")
    school = dict(sessions_possible=100)
    # On 30 Sep 2026 the last three complete terms are autumn, spring and summer 2025/26.
    f.add("schools", "schools", "C1", academic_year="2024/25", term="summer", sessions_unauthorised=50,
          fixed_term_exclusions=4, permanent_exclusion=True, **school)             # too old
    f.add("schools", "schools", "C1", academic_year="2025/26", term="autumn", sessions_unauthorised=7,
          fixed_term_exclusions=1, **school)
    f.add("schools", "schools", "C1", academic_year="2025/26", term="summer", sessions_unauthorised=5,
          fixed_term_exclusions=2, permanent_exclusion=True, **school)
    f.add("schools", "schools", "C1", academic_year="2026/27", term="autumn", sessions_unauthorised=9, **school)
    got = row(f.count(), "F1")
    assert f.count().terms == ("autumn 2025/26", "spring 2025/26", "summer 2025/26")
    assert (got["unauthorised_sessions"], got["fixed_term_exclusions"], got["permanent_exclusions"]) == (12, 3, 1)


def test_benefit_months_count_overlapping_claims_once_within_the_window():
    f = Families().member("A1", "F1").member("A2", "F1").member("A3", "F2")
    # A1: a claim from before the window to 31 Mar 2026, and another inside it: 1 Oct 2025-31 Mar
    # 2026 is 182 days, counted once.
    f.add("benefits", "benefits", "A1", benefit_type="JSA", out_of_work=True, role="claimant",
          claim_start="2024-01-01", claim_end="2026-03-31")
    f.add("benefits", "benefits", "A1", benefit_type="HB", out_of_work=True, role="claimant",
          claim_start="2025-12-01", claim_end="2026-01-31")
    f.add("benefits", "benefits", "A2", benefit_type="ESA", out_of_work=True, role="partner",
          claim_start="2025-01-01")                                    # a partner: not the claimant
    f.add("benefits", "benefits", "A2", benefit_type="CB", out_of_work=False, role="claimant",
          claim_start="2025-01-01")                                    # not an out-of-work benefit
    f.add("benefits", "benefits", "A3", benefit_type="UC", out_of_work=True, claim_start="2026-07-01")  # open
    r = f.count()
    assert row(r, "F1")["out_of_work_benefit_months"] == round(182 / (365.25 / 12), 1)   # 6.0
    assert row(r, "F2")["out_of_work_benefit_months"] == round(92 / (365.25 / 12), 1)    # 3.0
    members = r.member_demand.set_index("person_id")
    assert members.loc["A2", "out_of_work_benefit_months"] == 0
    assert row(r, "F2")["cost_benefits"] == round(BENEFIT_YEAR_2024 / 12 * round(92 / (365.25 / 12), 1))


def test_a_member_who_moved_in_brings_their_records_and_agencies():
    """Demand follows the person: records from before they joined the family count with it."""
    f = Families().member("P1", "F1").member("P2", "F1").member("P3", "F2")
    f.add("asb", "asb", "P2", role="perpetrator", intervention="abc", event_date="2025-11-01")  # at the old address
    f.add("asb2", "asb", "P1", role="perpetrator", intervention="warning", event_date="2020-01-01")  # too old
    f.add("housing", "housing", "P3", event_type="tenancy", event_date="2026-01-01")
    r = f.count()
    assert row(r, "F1")["asb_abcs"] == 1 and row(r, "F1")["asb_warnings"] == 0
    assert row(r, "F1")["estimated_cost"] == round(ABC_2024)
    agencies = r.agencies.set_index("family_id")
    # Two sources of one kind are one agency; a record outside the window still shows who knows them.
    assert agencies.loc["F1", "agencies"] == "asb" and agencies.loc["F1", "agencies_involved"] == 1
    assert agencies.loc["F2", "agencies"] == "housing" and row(r, "F2")["estimated_cost"] == 0
    assert list(r.member_demand.columns) == ["family_id", "person_id", *MEASURE_NAMES]
    assert r.member_demand.set_index("person_id").loc["P2", "asb_abcs"] == 1


def test_a_shorter_window_is_annualised_but_school_terms_are_not():
    f = Families().member("P1", "F1")
    f.add("asb", "asb", "P1", role="perpetrator", intervention="warning", event_date="2026-08-01")
    f.add("asb", "asb", "P1", role="perpetrator", intervention="warning", event_date="2026-02-01")   # out of 6 months
    r = f.count(DemandSettings(window_months=6))
    assert row(r, "F1")["asb_warnings"] == 1
    assert row(r, "F1")["estimated_cost"] == round(WARNING_2024 * 2)


def test_uplift_to_another_price_year():
    index_2015 = KNOEMA_2015 * HMT_2005 / KNOEMA_2005
    costs = load_costs("unit-costs-uk", 2015)
    assert costs.costs["asb_warnings"].uplifted_gbp == pytest.approx(66 * index_2015 / HMT_2006)
    assert load_costs("unit-costs-uk", 2006).costs["asb_abcs"].uplifted_gbp == pytest.approx(230)
    assert load_deflators()[1998] == HMT_1998


def test_the_built_in_table_cites_a_source_and_price_year_for_every_figure_and_accounts_for_every_measure():
    costs = load_costs()
    assert set(costs.costs) | set(costs.not_costed) == set(MEASURE_NAMES)
    for c in costs.costs.values():
        assert c.source.strip() and 1900 < c.price_year <= 2024
    assert all(reason != "not in the unit-cost table" for reason in costs.not_costed.values())
    assert len(costs.sha256) == 64


# --- ranking ------------------------------------------------------------------------------------

def test_rank_is_deterministic_with_ties():
    ids = pd.Series(["F4", "F2", "F3", "F1", "F5"])
    cost = pd.Series([100.0, 100.0, 100.0, 500.0, 0.0])
    agencies = pd.Series([2, 3, 2, 1, 6])
    met = pd.Series([1, 0, 2, 0, 3])
    ranked = rank_families(ids, cost, agencies, met).set_index("family_id")
    # F1 by cost; F2 by agencies; F3 before F4 by criteria met; F5 has no cost and comes last.
    assert ranked["rank"].to_dict() == {"F1": 1, "F2": 2, "F3": 3, "F4": 4, "F5": 5}
    again = rank_families(ids[::-1].reset_index(drop=True), cost[::-1].reset_index(drop=True),
                          agencies[::-1].reset_index(drop=True), met[::-1].reset_index(drop=True))
    assert again.set_index("family_id")["rank"].to_dict() == ranked["rank"].to_dict()
    # ceil(1% of 5) = ceil(3%) = ceil(10%) = 1: only the first is in the top bands.
    assert ranked["top_share"].to_dict() == {"F1": "top 1%", "F2": "", "F3": "", "F4": "", "F5": ""}


def test_top_share_bands_on_a_thousand_families_and_none_without_cost():
    n = 1000
    ids = pd.Series([f"F{i:04d}" for i in range(n)])
    cost = pd.Series([float(n - i) if i < 50 else 0.0 for i in range(n)])
    ranked = rank_families(ids, cost, pd.Series([1] * n), pd.Series([0] * n))
    counts = ranked["top_share"].value_counts().to_dict()
    assert counts == {"": 950, "top 3%": 20, "top 1%": 10, "top 10%": 20}   # 10th-50th: cost runs out at 50


# --- criteria on demand ----------------------------------------------------------------------------

DEMAND_SET = """
indicators:
  asb:
    agency: asb
    window: {last_months: 12}
criteria:
  asb_need: {any_of: [asb]}
conditions:
  many_agencies: {agencies_involved: {at_least: 2}}
  top: {estimated_cost: {top_percent: 33}}
  costly: {estimated_cost: {at_least: 300}}
rule: {any: [many_agencies, top, costly]}
"""


def test_conditions_on_agencies_and_estimated_cost():
    f = Families().member("P1", "F1").member("P2", "F2").member("P3", "F3")
    f.add("asb", "asb", "P1", role="perpetrator", intervention="abc", event_date="2026-03-01")
    f.add("asb", "asb", "P2", role="perpetrator", intervention="warning", event_date="2026-03-01")
    f.add("housing", "housing", "P2", event_type="tenancy", event_date="2026-01-01")
    f.add("housing", "housing", "P3", event_type="tenancy", event_date="2026-01-01")
    r = f.count()
    cs = parse_criteria(DEMAND_SET, "demand.yaml")
    extracts = {s: typed_extract(f.kinds[s], rows) for s, rows in f.rows.items()}
    links = pd.DataFrame(f.links).assign(family_id=lambda d: d["person_id"].map(
        {m["person_id"]: m["family_id"] for m in f.members}), match_score=None)
    members = pd.DataFrame(f.members).assign(age=pd.array([30, 30, 30], dtype="Int64"), role="adult")
    demand = r.agencies.merge(r.family_demand[["family_id", "estimated_cost"]], on="family_id")
    result = score_families(extracts, f.kinds, links, members, cs, AS_OF, demand=demand)
    m = result.need_matrix.set_index("family_id")
    # F1: one ABC (£362), the top 33% (ceil(0.99) = 1 family), one agency. F2: a warning (£104), two agencies.
    assert m.loc["F1", "rank"] == 1 and m.loc["F2", "rank"] == 2 and m.loc["F3", "rank"] == 3
    assert m["eligible"].to_dict() == {"F1": 1, "F2": 1, "F3": 0}
    assert m.loc["F2", "agencies"] == "asb;housing" and m.loc["F2", "agencies_involved"] == 2
    assert m.loc["F1", "estimated_cost"] == round(ABC_2024) and m.loc["F1", "top_share"] == "top 1%"
    only_top = parse_criteria(DEMAND_SET.replace("rule: {any: [many_agencies, top, costly]}", "rule: top"), "t.yaml")
    eligible = score_families(extracts, f.kinds, links, members, only_top, AS_OF, demand=demand).need_matrix
    assert eligible.set_index("family_id")["eligible"].to_dict() == {"F1": 1, "F2": 0, "F3": 0}


@pytest.mark.parametrize("condition,message", [
    ("{estimated_cost: {top_percent: 3, at_least: 100}}",
     "conditions.c.estimated_cost: give exactly one of at_least (pounds a year) or top_percent"),
    ("{estimated_cost: {top_percent: 0}}", "conditions.c.estimated_cost.top_percent: must be above 0 and at most 100"),
    ("{estimated_cost: {at_least: -5}}", "conditions.c.estimated_cost.at_least: must be a number of pounds above 0"),
    ("{estimated_cost: {top: 3}}", "conditions.c.estimated_cost.top: unknown key"),
    ("{agencies_involved: {at_least: 0}}", "conditions.c.agencies_involved.at_least: must be a whole number, 1 or more"),
    ("{agencies_involved: 3}", "conditions.c.agencies_involved: must be a mapping"),
    ("{agencies_involved: {at_least: 2}, children_under: 18}",
     "conditions.c.children_under: a condition is on the family's members"),
])
def test_a_wrong_condition_on_demand_is_refused_naming_line_and_key(condition, message):
    text = DEMAND_SET.replace("  top: {estimated_cost: {top_percent: 33}}", f"  c: {condition}").replace(
        "[many_agencies, top, costly]", "[many_agencies, c, costly]")
    with pytest.raises(ConfigError) as err:
        parse_criteria(text, "demand.yaml")
    assert err.value.message.startswith("demand.yaml, line 10: ") and message in err.value.message, err.value.message


# --- a council's own unit-cost table -----------------------------------------------------------

GOOD_TABLE = """\
costs:
  police_offences:
    gbp: 1000
    per: unit
    price_year: 2015
    source: Council finance, 2015 activity costing
"""


def test_a_councils_own_table_by_path(tmp_path):
    (tmp_path / "costs.yaml").write_text(GOOD_TABLE)
    costs = load_costs(tmp_path / "costs.yaml", 2015)
    assert costs.costs["police_offences"].uplifted_gbp == pytest.approx(1000)
    assert costs.not_costed["asb_warnings"] == "not in the unit-cost table"


@pytest.mark.parametrize("change,where", [
    (("    source: Council finance, 2015 activity costing\n", ""), "line 2: costs.police_offences.source: missing: give it"),
    (("    source: Council finance, 2015 activity costing\n", "    source: ''\n"),
     "line 6: costs.police_offences.source: must be text, not empty text"),
    (("police_offences:", "police_offence:"), "line 2: costs.police_offence: unknown measure"),
    (("price_year: 2015", "price_year: 2009"), "line 5: costs.police_offences.price_year: no GDP deflator for 2009"),
    (("per: unit", "per: year"), "line 4: costs.police_offences.per: per: year is for a measure counted in months"),
    (("gbp: 1000", "gbp: -3"), "line 3: costs.police_offences.gbp: must be a number, 0 or more"),
    (("gbp: 1000", "gbp: lots"), "line 3: costs.police_offences.gbp: must be a number"),
    (("costs:", "cost:"), "line 1: cost: unknown key"),
])
def test_a_bad_cost_table_is_refused_naming_file_line_and_key(tmp_path, change, where):
    path = tmp_path / "costs.yaml"
    path.write_text(GOOD_TABLE.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_costs(path, 2024)
    assert err.value.exit_code == 2
    assert err.value.message.startswith(f"{path}, {where}"), err.value.message


def test_the_run_refuses_a_bad_cost_table_before_any_work(tmp_path):
    from pipeline import cli
    from tests.conftest import HOUSING_HEADER, housing_row, write_csv
    write_csv(tmp_path / "housing.csv", [housing_row()], HOUSING_HEADER)
    (tmp_path / "costs.yaml").write_text(GOOD_TABLE.replace("    source: Council finance, 2015 activity costing\n", ""))
    (tmp_path / "c.yaml").write_text("as_of: 2026-09-30\nsources:\n  housing: housing.csv\noutput: out\n"
                                     "demand:\n  costs: costs.yaml\n")
    r = CliRunner().invoke(cli.main, ["run", "--config", str(tmp_path / "c.yaml")])
    assert r.exit_code == 2, r.output
    assert "costs.yaml, line 2: costs.police_offences.source: missing" in r.output
    assert not (tmp_path / "out").exists()


# --- the sample -----------------------------------------------------------------------------------

@pytest.mark.skipif(not (SAMPLE / "truth.csv").is_file(), reason="sample data not generated yet")
def test_demand_on_the_sample_against_its_truth():
    """Fed the true persons and families: the families that carry the most cost, and every
    family's ASB interventions and DV records as counted straight from the extracts."""
    from pipeline.run import load_records
    cfg, validated, _ = load_records(SAMPLE / "config.yaml")
    extracts = {n: v.accepted for n, v in validated.items()}
    kinds = {n: v.kind for n, v in validated.items()}
    truth = pd.read_csv(SAMPLE / "truth.csv", dtype=str)
    truth = truth[truth["expect_reject"].astype(int) == 0]
    persons = pd.read_csv(SAMPLE / "truth_persons.csv", dtype=str)
    r = count_demand(extracts, kinds, truth[["source", "record_id", "person_id"]], persons[["family_id", "person_id"]],
                     cfg.as_of, DemandSettings(), load_costs())
    fd = r.family_demand.merge(r.agencies, on="family_id").set_index("family_id")
    assert len(fd) == persons["family_id"].nunique() == 305
    # The three families with a year on out-of-work benefits and an ASB warning letter.
    top = fd[fd["estimated_cost"] == fd["estimated_cost"].max()]
    assert sorted(top.index) == ["TF0000124", "TF0000253", "TF0000292"]
    assert (top["estimated_cost"] == round(BENEFIT_YEAR_2024) + round(WARNING_2024)).all()
    assert set(top["agencies"]) == {"asb;benefits;dv;housing;police"}
    assert fd.loc["TF0000107", "agencies_involved"] == 6 and fd.loc["TF0000107", "unauthorised_sessions"] == 16
    # Independently of demand.py: the ASB warnings and high-risk DV records of each family.
    lo, hi = pd.Timestamp("2025-10-01"), pd.Timestamp("2026-09-30")
    family_of = truth.set_index(["source", "record_id"])["family_id"]
    asb = extracts["asb"]
    asb = asb[(asb["role"] == "perpetrator") & (asb["intervention"] == "warning")
              & asb["event_date"].between(lo, hi)]
    want = pd.Series([family_of.get(("asb", str(i))) for i in asb["record_id"]]).dropna().value_counts()
    assert fd["asb_warnings"][fd["asb_warnings"] > 0].sort_index().to_dict() == want.sort_index().to_dict()
    dv = extracts["dv"]
    dv = dv[(dv["risk_level"] == "high") & dv["event_date"].between(lo, hi)]
    want = pd.Series([family_of.get(("dv", str(i))) for i in dv["record_id"]]).dropna().value_counts()
    assert fd["dv_high"][fd["dv_high"] > 0].sort_index().to_dict() == want.sort_index().to_dict()


def test_a_condition_on_demand_is_described_in_plain_english():
    from criteria.describe import describe
    text = describe(parse_criteria(DEMAND_SET.replace("at_least: 300", "at_least: 5000"), "demand.yaml"))
    assert "Family condition top: top\n  Met by a family with a place in the top 33% of families by estimated cost" in text
    assert "Met by a family with at least 2 agencies involved with its members" in text
    assert "Met by a family with an estimated annual cost of recorded demand of at least £5,000" in text
