"""Hostile input never crashes: random bytes, random CSV shapes, huge fields, formula-like
cells, odd Unicode and mixed encodings end in a clean error or a clean rejection, and every
row read is accounted for."""
import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import load_config
from schemas.errors import HnfError
from pipeline.stages import ingest_and_validate
from tests.conftest import HOUSING_HEADER, write_config

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

nasty_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\u202eevil",
                     "Zoë", "Łukasz", "محمد", "王芳", "\ufeffBOM", "a\r\nb", "\"quoted\"", "x" * 5000, "", " ",
                     "31/02/2025", "2025-13-01", "-5", "NaN", "None", "null", "1e309"]),
)


def run_on(tmp_path, data: bytes):
    (tmp_path / "housing.csv").write_bytes(data)
    cfg = load_config(write_config(tmp_path, {"housing": {"path": "housing.csv"}}))
    try:
        v = ingest_and_validate(cfg)["housing"]
    except HnfError as exc:
        assert exc.exit_code in (2, 3)
        return None
    assert v.rows_read == len(v.accepted) + len(v.rejected)
    return v


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes(tmp_path, data):
    run_on(tmp_path, data)


@SETTINGS
@given(header=st.lists(st.sampled_from(HOUSING_HEADER + ["extra", ""]), min_size=1, max_size=18),
       rows=st.lists(st.lists(nasty_text, min_size=0, max_size=20), max_size=12),
       delimiter=st.sampled_from([",", ";", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
def test_random_csv_shapes(tmp_path, header, rows, delimiter, encoding):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode(encoding, errors="replace")
    run_on(tmp_path, data)


@SETTINGS
@given(cells=st.lists(st.fixed_dictionaries({h: nasty_text for h in HOUSING_HEADER}), min_size=1, max_size=15))
def test_full_header_nasty_values(tmp_path, cells):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HOUSING_HEADER)
    w.writeheader()
    w.writerows(cells)
    v = run_on(tmp_path, buf.getvalue().encode("utf-8"))
    if v is not None:
        assert v.rows_read == len(cells) - sum(1 for c in cells if not any(x.strip() for x in c.values()))


def test_mixed_encodings_in_one_file(tmp_path):
    head = ",".join(HOUSING_HEADER).encode()
    row1 = "H1,Zoë,Example,,,,,,,,,tenancy,2026-01-01,,".encode("utf-8")
    row2 = "H2,Zoë,Example,,,,,,,,,tenancy,2026-01-01,,".encode("cp1252")
    v = run_on(tmp_path, head + b"\n" + row1 + b"\n" + row2 + b"\n")
    assert v is not None and v.rows_read == 2 and len(v.accepted) == 2
