"""Dates read the way round the source writes them: ISO whatever the date_format, and a column
whose a/b/yyyy dates can only be read the other way round from date_format stops the run
(exit 3) with the file, column, count and an example row, never a value."""
import datetime as dt
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from schemas.validate import DAY_FIRST, MONTH_FIRST, date_order, parse_dates, parse_dates_and_order
from tests.conftest import HOUSING_HEADER, housing_row, write_config, write_csv


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def synthetic_dates(n: int, start=dt.date(1971, 1, 1), step=37) -> list[dt.date]:
    """n made-up dates spread over months and days (many days above 12)."""
    return [start + dt.timedelta(days=step * i) for i in range(n)]


def month_first(d: dt.date) -> str:
    return d.strftime("%m/%d/%Y")


def day_first(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def housing_extract(tmp_path, date_format: str, **columns: list[str]):
    """A housing extract whose date columns hold the given texts, and its config."""
    n = len(next(iter(columns.values())))
    rows = [housing_row(f"H{i}", uprn=str(100000 + i), **{c: v[i] for c, v in columns.items()}) for i in range(n)]
    write_csv(tmp_path / "housing.csv", rows, HOUSING_HEADER)
    return write_config(tmp_path, {"housing": {"path": "housing.csv", "date_format": date_format}})


def assert_no_date_values(output: str, texts: list[str]) -> None:
    for t in texts:
        assert t not in output
    assert not re.search(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}", output)


@pytest.mark.parametrize("date_format", ["auto", "iso", "dmy", "mdy"])
def test_iso_dates_are_read_whatever_the_date_format(date_format):
    got = parse_dates(pd.Series(["2025-03-04", "2025-03-04 00:00:00"]), date_format)
    assert list(got) == [pd.Timestamp(2025, 3, 4)] * 2


@pytest.mark.parametrize("text,order", [
    ("05/13/1980", MONTH_FIRST), ("5.13.1980", MONTH_FIRST), ("05-31-1980 10:00", MONTH_FIRST),
    ("13/05/1980", DAY_FIRST), ("31.12.1980", DAY_FIRST), ("13-5-1980 10:00:00", DAY_FIRST),
    ("05/06/1980", 0), ("12/12/1980", 0), ("1980-05-13", 0), ("45/13/1980", 0), ("13/13/1980", 0),
    ("05/32/1980", 0), ("00/13/1980", 0), ("05/13/80", 0), ("", 0), ("not a date", 0),
])
def test_date_order_tells_which_way_round_a_date_can_only_be_read(text, order):
    assert date_order(pd.Series([text], dtype="string[pyarrow]")).tolist() == [order]


def test_parse_dates_and_order_agrees_with_each_alone_on_repeated_and_distinct_values():
    texts = [month_first(d) for d in synthetic_dates(30)] + [day_first(d) for d in synthetic_dates(30)] + ["", "x"]
    for column in (pd.Series(texts * 5), pd.Series(texts)):   # few distinct values, then many
        column = column.astype("string[pyarrow]")
        dates, order = parse_dates_and_order(column, "dmy")
        pd.testing.assert_series_equal(dates, parse_dates(column, "dmy"), check_names=False)
        assert order.tolist() == date_order(column).tolist()


@pytest.mark.parametrize("date_format", ["auto", "dmy"])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_month_first_dates_of_birth_with_dmy_stop_with_exit_3_suggesting_mdy(tmp_path, date_format, command):
    dobs = [month_first(d) for d in synthetic_dates(40)]
    config = housing_extract(tmp_path, date_format, dob=dobs)
    only_month_first = [i for i, d in enumerate(synthetic_dates(40)) if d.day > 12]
    r = invoke(command, "--config", str(config))
    assert r.exit_code == 3, r.output
    assert "housing.csv" in r.output and "column dob" in r.output
    assert f"{len(only_month_first)} row(s) that can only be read month first" in r.output
    assert f"e.g. row {only_month_first[0] + 2}" in r.output          # row 1 is the header
    assert "`date_format: mdy` for source housing" in r.output and "keying errors" in r.output
    assert_no_date_values(r.output, dobs)
    assert not (tmp_path / "out").exists()


def test_day_first_dates_with_mdy_stop_suggesting_dmy(tmp_path):
    events = [day_first(d) for d in synthetic_dates(30, start=dt.date(2024, 1, 1), step=11)]
    config = housing_extract(tmp_path, "mdy", event_date=events, dob=["1980-01-02"] * 30)
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 3, r.output
    assert "column event_date" in r.output and "can only be read day first" in r.output
    assert "date_format is mdy" in r.output and "`date_format: dmy` for source housing" in r.output
    assert_no_date_values(r.output, events)


def test_month_first_dates_read_as_written_with_mdy(tmp_path):
    days = synthetic_dates(40)
    config = housing_extract(tmp_path, "mdy", dob=[month_first(d) for d in days])
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 0, r.output
    warnings = pd.read_csv(tmp_path / "out-validation" / "warnings" / "housing.csv")
    assert warnings.empty


def test_columns_written_in_opposite_orders_stop_without_suggesting_a_date_format(tmp_path):
    n = 30
    config = housing_extract(tmp_path, "dmy", dob=[month_first(d) for d in synthetic_dates(n)],
                             event_date=[day_first(d) for d in synthetic_dates(n, start=dt.date(2024, 1, 1), step=11)])
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 3, r.output
    assert "column dob" in r.output and "column event_date" in r.output
    assert "no one date_format fits" in r.output and "YYYY-MM-DD" in r.output
    assert "`date_format: mdy`" not in r.output


def test_mixed_order_column_is_not_guessed(tmp_path):
    days = synthetic_dates(60)
    dobs = [day_first(d) for d in days]
    stray = [i for i, d in enumerate(days) if d.day > 12][:2]       # two rows keyed month first
    for i in stray:
        dobs[i] = month_first(days[i])
    config = housing_extract(tmp_path, "dmy", dob=dobs)
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 0, r.output                # 2 of 60 rows warned: under the 5% limit
    day_first_only = sum(d.day > 12 for d in days) - len(stray)
    assert f"column dob: 2 row(s) can only be read month first, {day_first_only} only day first" in r.output
    assert_no_date_values(r.output, dobs)
    warnings = pd.read_csv(tmp_path / "out-validation" / "warnings" / "housing.csv")
    assert warnings["row_number"].tolist() == [i + 2 for i in stray]
    assert warnings["reason"].str.contains("mixed orders are not guessed").all()
    assert not warnings.astype(str).apply(lambda c: c.isin(dobs)).any().any()


def test_ambiguous_dates_alone_are_read_day_first(tmp_path):
    dobs = [day_first(d) for d in synthetic_dates(200) if d.day <= 12]
    config = housing_extract(tmp_path, "auto", dob=dobs)
    r = invoke("validate", "--config", str(config))
    assert r.exit_code == 0, r.output
