"""Seeded synthetic council data with ground truth: a population of households, the extracts six
agencies would hand over (messy in the ways real extracts are), a run config, and truth files.

    from synth import generate, generate_quarters
    summary = generate("sample_data", families=300, seed=2026)
    summary = generate_quarters("sample_data/quarters", families=150, as_ofs=(date(2026, 9, 30), date(2026, 12, 31)))
"""

from synth.quarters import generate_quarters
from synth.single import FORMATS, ROWS_PER_FAMILY, generate

__all__ = ["FORMATS", "ROWS_PER_FAMILY", "generate", "generate_quarters"]
