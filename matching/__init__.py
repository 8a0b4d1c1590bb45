"""Linkage: standardise records, block, compare, score, cluster into persons and form families."""
