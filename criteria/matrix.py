"""The need matrix's alternative layout: needs down the side, families across."""
from __future__ import annotations

import pandas as pd


def transpose(need_matrix: pd.DataFrame) -> pd.DataFrame:
    """One row per matrix column (members, adults, ..., each criterion, criteria_met, eligible)
    and one column per family, headed by its family_id; the first column, `need`, names the row."""
    body = need_matrix.set_index("family_id").astype(object).T
    body.columns = [str(c) for c in body.columns]
    body = body.where(body.notna(), pd.NA)
    body.index.name = "need"
    return body.reset_index()
