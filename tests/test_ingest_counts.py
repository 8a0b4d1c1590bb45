"""Ingest accounts for every line of a file: read = accepted + rejected = the file's own count of
records, row numbers are physical line numbers (the header is line 1), and a source that is not
a plain file, or a workbook that would inflate past the limits, is refused before it is read."""
import os
import zipfile

import pytest

import pipeline.ingest
from pipeline.config import SourceConfig, load_config
from pipeline.ingest import read_extract
from schemas.errors import EXIT_INPUT, InputDataError
from tests.conftest import write_config


def source_for(tmp_path, name="housing.csv", spec=None, agency="housing"):
    cfg = load_config(write_config(tmp_path, {agency: spec or {"path": name}}))
    return cfg.sources[agency]


# ---- sources that must never be read -------------------------------------------------------
# The config loader refuses a path that is not a file when it loads; the reader checks again as
# it opens, because the path can change between the two (and not every caller loads a config).

def direct_source(path, agency="housing"):
    return SourceConfig(name=agency, kind=agency, path=path)


def test_a_folder_named_as_the_source_is_refused_as_not_a_regular_file(tmp_path):
    src = direct_source(tmp_path / "housing.csv")
    (tmp_path / "housing.csv").mkdir()
    with pytest.raises(InputDataError, match=r"housing.csv: not a regular file \(it is a folder\)") as exc:
        read_extract(src)
    assert exc.value.exit_code == EXIT_INPUT


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    src = direct_source(tmp_path / "housing.csv")
    os.mkfifo(tmp_path / "housing.csv")
    with pytest.raises(InputDataError, match=r"not a regular file \(it is a named pipe"):
        read_extract(src)          # returns at once: opening never blocks on the FIFO


def test_a_device_is_refused_without_reading_it(tmp_path):
    src = direct_source(tmp_path / "housing.csv")
    os.symlink("/dev/zero", tmp_path / "housing.csv")
    with pytest.raises(InputDataError, match=r"not a regular file \(it is a device\)"):
        read_extract(src)


def test_a_device_named_as_an_excel_or_parquet_source_is_refused(tmp_path):
    os.symlink("/dev/zero", tmp_path / "police.xlsx")
    with pytest.raises(InputDataError, match="police.xlsx: not a regular file"):
        read_extract(direct_source(tmp_path / "police.xlsx", "police"))
    os.symlink("/dev/zero", tmp_path / "schools.parquet")
    with pytest.raises(InputDataError, match="schools.parquet: not a regular file"):
        read_extract(direct_source(tmp_path / "schools.parquet", "schools"))


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_a_workbook_that_would_inflate_hundreds_of_times_is_refused_before_opening(tmp_path):
    # 32 MiB of one repeated byte compresses to a few tens of KB: a zip bomb in miniature.
    _zip(tmp_path / "police.xlsx", {"[Content_Types].xml": b"<Types/>",
                                    "xl/worksheets/sheet1.xml": b" " * (32 * 1024 ** 2)})
    with pytest.raises(InputDataError, match=r"police.xlsx: a part of the workbook expands [\d,]+ times") as exc:
        read_extract(source_for(tmp_path, spec={"path": "police.xlsx"}, agency="police"))
    assert exc.value.exit_code == EXIT_INPUT


def test_a_workbook_over_the_total_size_limit_is_refused_naming_the_file(tmp_path, monkeypatch):
    import openpyxl
    wb = openpyxl.Workbook()
    wb.active.append(["Ref", "Forename", "Surname", "Offence Type", "Role", "Offence Date"])
    wb.save(tmp_path / "police.xlsx")
    total = sum(m.file_size for m in zipfile.ZipFile(tmp_path / "police.xlsx").infolist())
    monkeypatch.setattr(pipeline.ingest, "MAX_XLSX_UNCOMPRESSED_BYTES", total - 1)
    with pytest.raises(InputDataError, match=r"police.xlsx: the workbook would expand to .* over the limit"):
        read_extract(source_for(tmp_path, spec={"path": "police.xlsx"}, agency="police"))


def test_a_file_that_is_not_a_zip_is_not_an_excel_workbook(tmp_path):
    (tmp_path / "police.xlsx").write_bytes(b"Ref,Forename\n")
    with pytest.raises(InputDataError, match="police.xlsx: cannot be read as an Excel workbook"):
        read_extract(source_for(tmp_path, spec={"path": "police.xlsx"}, agency="police"))
