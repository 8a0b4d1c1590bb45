"""A council's own wording of the criteria's headline labels (`report.headline_labels`): shown
wherever the report names a criterion; a name that is not one of the set's criteria stops the
run before any work (exit 2), naming the key and the criteria it could be."""
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def _config(tmp_path, labels) -> Path:
    cfg = yaml.safe_load((SAMPLE / "config.yaml").read_text())
    for s in cfg["sources"].values():
        s["path"] = str(SAMPLE / s["path"])
    cfg["output"] = str(tmp_path / "out")
    cfg.setdefault("report", {})["headline_labels"] = labels
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_an_unknown_criterion_is_refused_before_any_work(tmp_path):
    r = CliRunner().invoke(main, ["run", "--config", str(_config(tmp_path, {"schooling": "Getting a good education"}))])
    assert r.exit_code == 2
    assert "report.headline_labels" in r.output and "'schooling'" in r.output and "education" in r.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_report_uses_the_councils_wording(tmp_path):
    label = "Getting a good education (local wording)"
    r = CliRunner().invoke(main, ["run", "--config", str(_config(tmp_path, {"education": label}))])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert label in html
    assert "Children not attending school regularly" not in html
