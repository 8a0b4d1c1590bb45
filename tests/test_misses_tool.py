"""tools/misses.py on the sample: every record pair the linkage loses, persons and families, is
classified once, and the counts add up to what the evaluation measures."""
import pandas as pd

from tools import misses
from tools.evaluate import pairwise_scores


def test_misses_on_the_sample_account_for_every_lost_pair(tmp_path, capsys):
    assert misses.main(["--config", "sample_data/config.yaml", "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "person fragments left apart" in out and "pieces placed away from their family" in out
    persons = pd.read_csv(tmp_path / "m_persons.csv")
    families = pd.read_csv(tmp_path / "m_families.csv")
    assert set(persons["status"]) <= {"not_candidate", "link", "review", "non-link", "vetoed", "clerical non-match"}
    assert set(families["kind"]) <= {"person_split", "formation"}
    # the fragments' lost pairs are the true person pairs the run did not put together,
    # when each true person has one main piece
    records, res = misses._link("sample_data/config.yaml")
    truth = pd.read_csv("sample_data/truth.csv", dtype=str, keep_default_na=False, na_values=[""])
    f = misses.frame(records, res, truth)
    score = pairwise_scores(f["pp"].to_numpy(), f["tp"].to_numpy())
    lost = score["true_pairs"] - score["correct_pairs"]
    assert 0 < persons["pairs_lost"].sum() <= lost
    # a fragment of a person is one the linkage left apart from its person's main piece
    assert (families["kind"] == "person_split").sum() <= len(persons)
