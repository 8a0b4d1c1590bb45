"""Accuracy from clerical decisions: the record pairs an analyst decided are labels, so the
model's weights can be judged against them (recordlinkage's `measures`): the precision and recall
of the automatic threshold, how often a pair of the review band was a match, and both at every
threshold one could have chosen."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Accuracy:
    decided: int                      # record pairs decided (match or non-match)
    matches: int                      # of which decided a match
    band_decided: int                 # decided pairs whose weight is in the review band
    band_precision: float | None      # share of those decided a match: the band's precision if linked
    precision: float | None           # of decided pairs at or above the threshold, the share matched
    recall: float | None              # of pairs decided a match, the share at or above the threshold
    curve: pd.DataFrame               # threshold, precision, recall, pairs_at_or_above

    def to_dict(self) -> dict:
        return {"decided_pairs": self.decided, "decided_matches": self.matches,
                "band_decided_pairs": self.band_decided, "band_precision": _round(self.band_precision),
                "precision_at_threshold": _round(self.precision), "recall_at_threshold": _round(self.recall)}


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


def _index(n: int) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([np.arange(n), np.arange(n)])


def accuracy_from_decisions(weight: np.ndarray, is_match: np.ndarray, match_weight: float,
                            review_weight: float) -> Accuracy | None:
    """From the decided record pairs' model weights and decisions (True: match); None when no
    pair is decided. A measure with nothing to count (no pair at or above the threshold) is None."""
    from recordlinkage import measures          # slow to import: only runs with decisions need it

    weight, is_match = np.asarray(weight, dtype=float), np.asarray(is_match, dtype=bool)
    if len(weight) == 0:
        return None
    pairs = _index(len(weight))
    true = pairs[is_match]

    def at(threshold: float) -> tuple[float | None, float | None, int]:
        predicted = pairs[weight >= threshold]
        precision = float(measures.precision(true, predicted)) if len(predicted) else None
        recall = float(measures.recall(true, predicted)) if len(true) else None
        return precision, recall, len(predicted)

    precision, recall, _ = at(match_weight)
    band = (weight >= review_weight) & (weight < match_weight)
    band_precision = float(is_match[band].mean()) if band.any() else None
    steps = np.unique(np.round(np.concatenate([weight, [review_weight, match_weight]]), 1))
    curve = pd.DataFrame([(t, *at(t)) for t in steps], columns=["threshold", "precision", "recall", "pairs_at_or_above"])
    return Accuracy(decided=len(weight), matches=int(is_match.sum()), band_decided=int(band.sum()),
                    band_precision=band_precision, precision=precision, recall=recall, curve=curve)
