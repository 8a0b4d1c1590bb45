"""The run's record and the stage results in it: frozen, and the thresholds as the run used them."""
import dataclasses

import pytest

from matching.settings import LinkageSettings
from reports.record import Thresholds


def test_thresholds_given_as_probabilities_are_quoted_with_their_weights():
    t = Thresholds.of(LinkageSettings.defaults(), max_rejected_share=0.05)
    assert (round(t.match_weight, 1), round(t.review_weight, 1)) == (6.6, 2.0)
    assert (t.match_probability, t.review_probability) == (0.99, 0.8)
    assert t.recorded["match_weight"] == t.match_weight and t.recorded["max_rejected_share"] == 0.05
    assert t.recorded["match_probability"] == 0.99          # the settings as given, for the manifest


def test_a_weight_given_wins_and_no_probability_is_invented():
    t = Thresholds.of(LinkageSettings.from_dict({"thresholds": {"match_weight": 15.0, "review_weight": 5.0}}))
    assert (t.match_weight, t.review_weight) == (15.0, 5.0)
    assert t.match_probability is None and t.review_probability is None


def test_stage_results_and_the_record_cannot_be_added_to():
    from criteria.engine import CriteriaResult
    from criteria.outcomes import OutcomeResult
    from matching.linkage import LinkageResult
    from pipeline.quarters import CarriedForward, Previous
    from reports.record import RunRecord, StageTimes

    for cls in (RunRecord, StageTimes, Thresholds, LinkageResult, CriteriaResult, OutcomeResult, Previous,
                CarriedForward):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls.__name__
    times = StageTimes(seconds={}, peak_memory_mb={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        times.seconds = {"link": 1.0}
