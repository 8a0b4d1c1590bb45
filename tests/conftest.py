"""Shared fixtures: tiny synthetic extracts written the way councils hand them over."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

HOUSING_HEADER = ["record_id", "forename", "surname", "dob", "sex", "address", "postcode", "uprn",
                  "nhs_number", "ni_number", "upn", "event_type", "event_date", "tenancy_ref", "rent_arrears_gbp"]


def housing_row(record_id="H1", **over) -> dict:
    row = {"record_id": record_id, "forename": "Alex", "surname": "Testperson", "dob": "03/04/1980", "sex": "F",
           "address": "1 Example Road", "postcode": "ab1 2xy", "uprn": "100023", "nhs_number": "4010232137",
           "ni_number": "AB123456C", "upn": "", "event_type": "tenancy", "event_date": "2025-01-02",
           "tenancy_ref": "T1", "rent_arrears_gbp": "0"}
    row.update(over)
    return row


def write_csv(path: Path, rows: list[dict], header: list[str] | None = None, *, encoding="utf-8",
              delimiter=",") -> Path:
    header = header or list(rows[0].keys())
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.DictWriter(fh, fieldnames=header, delimiter=delimiter, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def write_config(folder: Path, sources: dict, **top) -> Path:
    import yaml
    cfg = {"as_of": "2026-09-30", "criteria": "troubled-families-2015", "sources": sources,
           "output": "out"}
    cfg.update(top)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def folder(tmp_path):
    """A folder holding one valid housing extract, for configs written as text."""
    write_csv(tmp_path / "housing.csv", [housing_row()], HOUSING_HEADER)
    return tmp_path


def load_config_text(folder: Path, text: str):
    """Write `text` as folder/c.yaml and load it as a run config."""
    from pipeline.config import load_config
    (folder / "c.yaml").write_text(text)
    return load_config(folder / "c.yaml")


@pytest.fixture
def housing_config(tmp_path):
    """A valid one-source run: 20 housing rows."""
    rows = [housing_row(f"H{i}", uprn=str(100000 + i)) for i in range(20)]
    write_csv(tmp_path / "housing.csv", rows, HOUSING_HEADER)
    return write_config(tmp_path, {"housing": {"path": "housing.csv"}})


def typed_extract(kind: str, rows: list[dict]) -> "pd.DataFrame":
    """An accepted extract as validation hands it over: canonical columns, types, row_number."""
    import pandas as pd

    from schemas.fields import COUNT, DATE, FLAG, MONEY, field_names, fields_for
    names = field_names(kind)
    df = pd.DataFrame([{n: r.get(n) for n in names} for r in rows], columns=names)
    for f in fields_for(kind):
        if f.kind == DATE:
            df[f.name] = pd.to_datetime(df[f.name])
        elif f.kind == COUNT:
            df[f.name] = df[f.name].astype("Int64")
        elif f.kind == FLAG:
            df[f.name] = df[f.name].astype("boolean")
        elif f.kind == MONEY:
            df[f.name] = df[f.name].astype(float)
    df["row_number"] = range(2, 2 + len(df))
    return df


SAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "sample_data" / "config.yaml"


@pytest.fixture(scope="module")
def sample_records():
    """The bundled sample's run config and stacked records (read once a test module)."""
    from pipeline.stages import load_records
    cfg, _, records = load_records(SAMPLE_CONFIG)
    return cfg, records
