"""Dates read the way round the source writes them: ISO whatever the date_format, and a column
whose a/b/yyyy dates can only be read the other way round from date_format stops the run
(exit 3) with the file, column, count and an example row, never a value."""
import pandas as pd
import pytest

from schemas.validate import parse_dates


@pytest.mark.parametrize("date_format", ["auto", "iso", "dmy", "mdy"])
def test_iso_dates_are_read_whatever_the_date_format(date_format):
    got = parse_dates(pd.Series(["2025-03-04", "2025-03-04 00:00:00"]), date_format)
    assert list(got) == [pd.Timestamp(2025, 3, 4)] * 2
