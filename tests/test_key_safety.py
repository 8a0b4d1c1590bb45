"""The pseudonymisation key: a regular file (never a pipe or a device) of bounded size; a key that
others may read is warned about like ssh does, or refused; all checked when the config loads."""
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import cli
from pipeline.config import load_config
from reports.outputs import read_key
from schemas.errors import ConfigError

ROOT = Path(__file__).parents[1]


def make_key(path: Path, mode: int = 0o600, size: int = 64) -> Path:
    path.write_bytes(os.urandom(size).hex().encode()[:size])
    path.chmod(mode)
    return path




def config(folder: Path, key: Path | str, permissions: str | None = None) -> Path:
    extra = f"\n  key_permissions: {permissions}" if permissions else ""
    path = folder / "c.yaml"
    path.write_text("as_of: 2026-09-30\ncriteria: troubled-families-2012\nsources:\n  housing: {path: housing.csv}\n"
                    f"output: out\noutputs:\n  profile: shareable\n  pseudonymise_key: {key}{extra}\n")
    return path


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def hnf_warnings():
    """Warnings of the hnf_match logger, caught on the logger itself: a CLI test before this one
    may have stopped it propagating to the root logger, where pytest's caplog listens."""
    logger = logging.getLogger("hnf_match")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def warnings_from(hnf_warnings):
    return [r.getMessage() for r in hnf_warnings.records if r.name == "hnf_match" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o666])
def test_a_key_others_may_read_or_write_is_warned_about(tmp_path, hnf_warnings, mode):
    key = make_key(tmp_path / "hnf.key", mode)
    assert len(read_key(key)) == 64
    [message] = warnings_from(hnf_warnings)
    assert str(key) in message and f"mode {mode:04o}" in message and f"chmod 600 {key}" in message


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_is_read_without_a_word(tmp_path, hnf_warnings, mode):
    key = make_key(tmp_path / "hnf.key", mode)
    read_key(key)
    assert warnings_from(hnf_warnings) == []


def test_an_open_key_is_refused_with_key_permissions_refuse(tmp_path):
    key = make_key(tmp_path / "hnf.key", 0o644)
    with pytest.raises(ConfigError, match=r"mode 0644.*chmod 600.*refused") as err:
        read_key(key, permissions="refuse")
    assert err.value.exit_code == 2
    assert len(read_key(make_key(tmp_path / "ok.key", 0o600), permissions="refuse")) == 64


def test_the_config_checks_the_key_when_it_loads(folder, hnf_warnings):
    key = make_key(folder / "hnf.key", 0o644)
    cfg = load_config(config(folder, key))
    assert cfg.outputs.key_permissions == "warn" and cfg.outputs.pseudonymise_key == key
    assert any("chmod 600" in m for m in warnings_from(hnf_warnings))
    with pytest.raises(ConfigError, match=r"c.yaml, line 8: outputs.pseudonymise_key: .*mode 0644.*refused"):
        load_config(config(folder, key, "refuse"))
    key.chmod(0o600)
    assert load_config(config(folder, key, "refuse")).outputs.key_permissions == "refuse"


def test_the_warning_reaches_stderr_and_the_log_file(folder):
    key = make_key(folder / "open.key", 0o644)
    log_file = folder / "run.log"
    r = CliRunner().invoke(cli.main, ["validate", "--config", str(config(folder, key)), "--log-file", str(log_file)])
    assert r.exit_code == 0, r.output
    assert "mode 0644" in r.stderr and f"chmod 600 {key}" in r.stderr
    assert "WARNING" in log_file.read_text() and f"chmod 600 {key}" in log_file.read_text()


def test_the_run_refuses_an_open_key_before_any_work(folder):
    key = make_key(folder / "hnf.key", 0o644)
    r = CliRunner().invoke(cli.main, ["run", "--config", str(config(folder, key, "refuse"))])
    assert r.exit_code == 2, r.output
    assert "outputs.pseudonymise_key" in r.output and "chmod 600" in r.output
    assert sorted(p.name for p in folder.iterdir()) == ["c.yaml", "hnf.key", "housing.csv"]


@pytest.mark.parametrize("size,ok", [(4096, True), (4097, False), (1 << 20, False)])
def test_the_key_is_read_with_a_bound(tmp_path, size, ok):
    key = make_key(tmp_path / "hnf.key", 0o600, size)
    if ok:
        assert len(read_key(key)) == size
    else:
        with pytest.raises(ConfigError, match=rf"too large \({size:,} bytes; at most 4 KiB\)"):
            read_key(key)


def test_a_short_key_is_refused_when_the_config_loads(folder):
    key = folder / "short.key"
    key.write_bytes(b"short")
    key.chmod(0o600)
    with pytest.raises(ConfigError, match=r"line 8: outputs.pseudonymise_key: .*at least 32 bytes"):
        load_config(config(folder, key))


@pytest.mark.parametrize("target,kind", [("/dev/zero", "a device"), ("/dev/urandom", "a device"), (".", "a folder")])
def test_a_device_or_folder_as_the_key_is_refused(folder, target, kind):
    if not os.path.exists(target):
        pytest.skip(f"no {target} here")
    path = folder if target == "." else Path(target)
    with pytest.raises(ConfigError, match=rf"not a regular file \({kind}\)"):
        read_key(path)
    with pytest.raises(ConfigError, match=rf"line 8: outputs.pseudonymise_key: not a regular file \({kind}\)"):
        load_config(config(folder, path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_fifo_as_the_key_is_refused_at_once(folder):
    fifo = folder / "hnf.key"
    os.mkfifo(fifo)
    cfg = config(folder, fifo)
    # In its own interpreter, with a timeout: a read that blocked would fail, not hang, the test.
    code = f"""
from pathlib import Path
from pipeline.config import load_config
from reports.outputs import read_key
from schemas.errors import ConfigError
for call in (lambda: read_key(Path({str(fifo)!r})), lambda: load_config({str(cfg)!r})):
    try:
        call()
    except ConfigError as exc:
        print(exc.message)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stderr
    assert "the pseudonymisation key: not a regular file (a named pipe)" in lines[0]
    assert "line 8: outputs.pseudonymise_key: not a regular file (a named pipe)" in lines[1]
