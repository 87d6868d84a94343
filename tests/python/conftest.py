"""Fixtures the test modules share."""

import pytest

import daisy


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Runs a test in its own directory, so daisy_logs/ lands there."""
    monkeypatch.chdir(tmp_path)
    old = daisy.logging.get_log_basedir()
    daisy.logging.set_log_basedir(tmp_path / "daisy_logs")
    yield tmp_path
    daisy.logging.set_log_basedir(old)
