"""Criteria: indicators, criteria and family rules read from YAML; the matrix of need and its evidence."""
