"""The fast CSV path writes exactly what pandas writes."""
import numpy as np
import pandas as pd

from reports.writers import _csv_text, _prepare


def test_fast_csv_text_equals_pandas():
    rng = np.random.default_rng(2)
    n = 500
    frame = pd.DataFrame({
        "id": [f"R{i:05d}" for i in range(n)],
        "name": rng.choice(["Zoë", "O'Neill", "", "=SUM(A1)", "-12.5", "a b"], n),
        "score": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
        "count": rng.integers(0, 9, n),
        "when": pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        "flag": rng.random(n) < 0.5,
    })
    prepared = _prepare(frame)
    assert _csv_text(prepared) == prepared.to_csv(index=False, lineterminator="\n")
    # cells that need quotes, a single column and an empty frame go through pandas, unchanged
    for f in (prepared.assign(name=prepared["name"] + ",x"), prepared.assign(name='say "hi"'),
              prepared.assign(name="two\nlines"), prepared[["name"]], prepared.iloc[:0]):
        assert _csv_text(f) == f.to_csv(index=False, lineterminator="\n")
