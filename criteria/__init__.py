"""Criteria: indicators, criteria and family rules read from YAML; the matrix of need and its evidence."""
from criteria.engine import CriteriaResult, score_families
from criteria.language import CriteriaSet, list_builtin, load_criteria, parse_criteria
from criteria.matrix import transpose

__all__ = ["CriteriaResult", "CriteriaSet", "list_builtin", "load_criteria", "parse_criteria",
           "score_families", "transpose"]
