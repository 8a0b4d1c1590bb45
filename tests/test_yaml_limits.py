"""Bounded YAML loading: no config or criteria file can exhaust memory or hang a run; a path
that is not a regular file (a pipe, a device, a folder) is refused before it is opened."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from criteria.language import load_criteria, parse_criteria
from pipeline import cli
from pipeline.config import load_config
from schemas.errors import ConfigError
from tests.conftest import load_config_text as load
from schemas.yaml_loading import (MAX_ALIASES, MAX_DEPTH, MAX_YAML_BYTES, file_problem, load_yaml_file,
                                  parse_yaml, read_bounded)

ROOT = Path(__file__).parents[1]

GOOD = """as_of: 2026-09-30
criteria: troubled-families-2012
sources:
  housing: {path: housing.csv}
output: out
"""


def laughs(levels: int = 9, width: int = 10) -> str:
    """A billion-laughs block: each level holds `width` aliases of the one before."""
    out = "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, levels):
        out += f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]\n"
    return out


def test_billion_laughs_under_report_is_refused_at_once(folder):
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"c.yaml, line \d+: more than 100,000 values once aliases"):
        load(folder, GOOD + "report:\n" + laughs())
    assert time.perf_counter() - t0 < 2


def test_billion_laughs_in_a_criteria_file_exits_2(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text("name: x\nsettings:\n" + laughs())
    t0 = time.perf_counter()
    r = CliRunner().invoke(cli.main, ["criteria", "show", str(path)])
    assert r.exit_code == 2 and f"{path}, line" in r.output and "aliases" in r.output
    assert time.perf_counter() - t0 < 5


def test_too_many_aliases_are_refused():
    text = "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(ConfigError, match=rf"f.yaml, line 2: more than {MAX_ALIASES} aliases"):
        parse_yaml(text, "f.yaml")
    assert parse_yaml("a: &a x\nb: [" + ", ".join(["*a"] * MAX_ALIASES) + "]\n", "f.yaml").data["b"][0] == "x"


def test_a_recursive_alias_and_deep_nesting_are_refused():
    with pytest.raises(ConfigError, match="line 1: an alias"):
        parse_yaml("a: &a [1, *a]\n", "f.yaml")
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "f.yaml")


@pytest.mark.parametrize("text,words", [
    ("as_of: 2026-02-30\n", "line 1: as_of: a value YAML cannot read"),
    ("a: !!int twelve\n", "line 1: a: a value YAML cannot read"),
    ("a: !!timestamp soon\n", "line 1: a: a value YAML cannot read"),
    ("a: !!binary ab\n", "line 1: not valid YAML"),
    ("a: 1\x07\n", "control character"),
    ("a: [1\n", "line 2: not valid YAML"),
    ("? [a, b]\n: 1\n", "not valid YAML"),
    ("a: 1\n---\nb: 2\n", "not valid YAML"),
])
def test_unreadable_yaml_is_a_config_error_not_an_internal_error(text, words):
    with pytest.raises(ConfigError, match=re.escape(words)) as err:
        parse_yaml(text, "f.yaml")
    assert err.value.message.startswith("f.yaml")


def test_an_impossible_date_in_the_config_exits_2(folder):
    (folder / "c.yaml").write_text(GOOD.replace("2026-09-30", "2026-02-30"))
    r = CliRunner().invoke(cli.main, ["validate", "--config", str(folder / "c.yaml")])
    assert r.exit_code == 2 and "line 1: as_of:" in r.output


def test_an_oversized_config_is_refused_naming_file_and_size(folder):
    text = GOOD + "#" * (MAX_YAML_BYTES + 10) + "\n"
    with pytest.raises(ConfigError, match=r"c.yaml: config file is too large \(1,048,\d{3} bytes; at most 1024 KiB\)"):
        load(folder, text)


def test_an_oversized_criteria_file_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\n" + "#" * (MAX_YAML_BYTES + 1) + "\n")
    with pytest.raises(ConfigError, match=r"big.yaml: criteria file is too large"):
        load_criteria(str(path))
    with pytest.raises(ConfigError, match="too large"):
        parse_criteria("name: big\n" + "#" * (MAX_YAML_BYTES + 1), "text")


def _in_a_subprocess(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `code` in its own interpreter: a read that blocks fails the test instead of hanging it."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_fifo_as_the_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "validate", "--config", str(fifo)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "config file: not a regular file (a named pipe)" in proc.stderr


@pytest.mark.parametrize("path,kind", [("/dev/zero", "a device"), ("/dev/null", "a device"), (".", "a folder")])
def test_a_device_or_folder_as_the_config_is_refused(tmp_path, path, kind):
    if not os.path.exists(path):
        pytest.skip(f"no {path} here")
    target = tmp_path if path == "." else Path(path)
    with pytest.raises(ConfigError, match=re.escape(f"config file: not a regular file ({kind})")):
        load_config(target)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_fifo_as_a_criteria_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "set.yaml"
    os.mkfifo(fifo)
    proc = _in_a_subprocess(f"""
from criteria.language import load_criteria
from schemas.errors import ConfigError
try:
    load_criteria({str(fifo)!r})
except ConfigError as exc:
    print(exc.message)
""")
    assert "criteria file: not a regular file (a named pipe)" in proc.stdout, proc.stderr
    r = CliRunner().invoke(cli.main, ["criteria", "show", "/dev/zero"])
    assert r.exit_code == 2 and "not a regular file (a device)" in r.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("key,line", [("criteria", 2), ("baselines", 6), ("review_decisions", 6),
                                      ("sources.housing.path", 4)])
def test_input_paths_in_the_config_must_be_regular_files(folder, key, line):
    fifo = folder / "pipe.yaml"
    os.mkfifo(fifo)
    for target, kind in ((fifo, "a named pipe"), ("/dev/zero", "a device"), (folder, "a folder")):
        if key == "criteria":
            text = GOOD.replace("troubled-families-2012", str(target))
        elif key == "sources.housing.path":
            text = GOOD.replace("housing.csv", str(target))
        else:
            text = GOOD + f"{key}: {target}\n"
        # A source may be a folder of Parquet parts: one holding none is refused as such.
        why = ("the folder holds no Parquet file" if key == "sources.housing.path" and kind == "a folder"
               else f"not a regular file ({kind})")
        with pytest.raises(ConfigError, match=re.escape(f"line {line}: {key}: {why}")):
            load(folder, text)


def test_file_problem_never_opens(tmp_path):
    assert file_problem(tmp_path / "none") == "file not found"
    assert file_problem(tmp_path) == "not a regular file (a folder)"
    (tmp_path / "f").write_text("x")
    assert file_problem(tmp_path / "f") is None
    data, st = read_bounded(tmp_path / "f", 10, "the file")
    assert data == b"x" and st.st_size == 1
    with pytest.raises(ConfigError, match="too large"):
        read_bounded(tmp_path / "f", 0, "the file")


def test_the_builtin_sets_and_linkage_defaults_load_within_the_limits():
    for path in (ROOT / "criteria" / "sets").glob("*.yaml"):
        assert load_yaml_file(path, "criteria set").data
    assert load_yaml_file(ROOT / "matching" / "defaults.yaml", "the linkage defaults").data["blocking"]


def test_every_yaml_reader_goes_through_the_bounded_loader():
    """No module but schemas/yaml_loading.py parses YAML itself (the sample generator writes it)."""
    readers = []
    for pkg in ("pipeline", "criteria", "matching", "reports", "schemas"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "yaml_loading.py" or "synth" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"yaml\.(safe_load|load|full_load|unsafe_load|compose|compose_all|load_all|safe_load_all)\(", text):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []
