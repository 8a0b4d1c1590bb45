"""A whole run as a data officer's cron job meets it: killed mid-way, run twice, run at once,
and read by an information governance lead looking for personal data in logs and manifest."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    from synth import generate
    folder = tmp_path_factory.mktemp("gen")
    generate(folder, families=80, seed=11, formats="mixed")
    return folder


def run_cli(config, out, *extra):
    return CliRunner().invoke(main, ["run", "--config", str(config), "--out", str(out), *extra])


def test_two_runs_give_identical_csv_bytes(small_set, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(small_set / "config.yaml", a).exit_code == 0
    assert run_cli(small_set / "config.yaml", b).exit_code == 0
    csvs = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    assert {"need_matrix.csv", "record_links.csv", "members.csv", "evidence.csv"} <= {str(p) for p in csvs}
    for rel in csvs:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_record_links_contract_columns(small_set, tmp_path):
    assert run_cli(small_set / "config.yaml", tmp_path / "o").exit_code == 0
    header = (tmp_path / "o" / "record_links.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["source", "record_id", "person_id", "family_id"]
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    for src in m["inputs"]:
        assert src["read"] == src["accepted"] + src["rejected"]
        assert len(src["sha256"]) == 64
    links = pd.read_csv(tmp_path / "o" / "record_links.csv", dtype=str)
    assert len(links) == sum(s["accepted"] for s in m["inputs"])


def _personal_values(folder: Path) -> set[str]:
    truth_people = pd.read_csv(folder / "truth.csv", dtype=str)
    values = set()
    for path in folder.iterdir():
        if path.suffix == ".csv" and not path.name.startswith("truth"):
            f = pd.read_csv(path, dtype=str, sep=None, engine="python", encoding_errors="replace")
            for col in f.columns:
                low = col.lower()
                if any(k in low for k in ("surname", "forename", "postcode", "birth", "dob", "ni ", "nino", "upn", "nhs")):
                    values |= {v for v in f[col].dropna() if len(str(v)) >= 4}
    assert len(values) > 50 and len(truth_people) > 0
    return values


def test_no_personal_data_in_log_file_or_manifest(small_set, tmp_path):
    log = tmp_path / "run.log"
    r = run_cli(small_set / "config.yaml", tmp_path / "o", "--log-file", str(log))
    assert r.exit_code == 0
    text = log.read_text() + (tmp_path / "o" / "manifest.json").read_text() + r.output
    leaked = [v for v in _personal_values(small_set) if v in text]
    assert leaked == []


def test_second_run_on_a_locked_folder_refused_with_exit_4(small_set, tmp_path):
    out = tmp_path / "o"
    lock = tmp_path / "o.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    r = run_cli(small_set / "config.yaml", out)
    assert r.exit_code == 4 and "another run is writing this output folder" in r.output
    assert "stage ingest" not in r.output      # refused before doing any work
    assert lock.exists() and not out.exists()


def test_sigterm_mid_run_leaves_previous_outputs_intact(small_set, tmp_path):
    out = tmp_path / "o"
    assert run_cli(small_set / "config.yaml", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.glob("*.csv")}
    log = tmp_path / "run.log"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--config", str(small_set / "config.yaml"),
                             "--out", str(out), "--log-file", str(log), "--as-of", "2026-06-30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if log.exists() and "stage ingest and validate: started" in log.read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 5, err
    if "after the command had finished its work" in err:
        return      # a loaded machine ran the whole run before the signal landed: the outputs are this run's
    assert "stopped by signal SIGTERM" in err
    after = {p.name: p.read_bytes() for p in out.glob("*.csv")}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "run.log"]


def test_shareable_pseudonymised_profile_holds_no_personal_data(small_set, tmp_path):
    import yaml
    key = tmp_path / "hnf.key"
    key.write_bytes(os.urandom(48).hex().encode())
    cfg = yaml.safe_load((small_set / "config.yaml").read_text())
    cfg["outputs"] = {"profile": "shareable", "pseudonymise_key": str(key), "file_mode": "0640"}
    for spec in cfg["sources"].values():
        spec["path"] = str(small_set / spec["path"])
    (tmp_path / "share.yaml").write_text(yaml.safe_dump(cfg))
    r = run_cli(tmp_path / "share.yaml", tmp_path / "s")
    assert r.exit_code == 0, r.output
    out = tmp_path / "s"
    assert not (out / "review_pairs.csv").exists() and not (out / "rejected").exists()
    assert not (out / "linkage_state").exists()     # record keys and fingerprints stay with the full profile
    members = pd.read_csv(out / "members.csv", dtype=str)
    assert not {"forename", "surname", "dob", "address", "postcode", "uprn"} & set(members.columns)
    assert members["person_id"].str.startswith("P-").all() and members["family_id"].str.startswith("F-").all()
    links = pd.read_csv(out / "record_links.csv", dtype=str)
    assert list(links.columns[:4]) == ["source", "record_id", "person_id", "family_id"]
    text = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    # Group labels (ethnicity, shown by group, never per person) may share a word with a surname.
    labels = " ".join(pd.read_csv(out / "linkage_quality_by_group.csv", dtype=str)["group"].dropna())
    assert [v for v in _personal_values(small_set) if v in text and v not in labels] == []
    assert stat_mode(out / "members.csv") == 0o640 and stat_mode(out) == 0o750
    # the same key gives the same pseudonyms on a re-run
    r2 = run_cli(tmp_path / "share.yaml", tmp_path / "s2")
    assert (tmp_path / "s2" / "members.csv").read_bytes() == (out / "members.csv").read_bytes()


def stat_mode(path):
    import stat
    return stat.S_IMODE(path.stat().st_mode)
