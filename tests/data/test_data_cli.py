"""``data fetch|verify|list`` sub-commands, called directly and through ``python -m repro``."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro.data import DATASETS
from repro.data.cli import main, register

REPO = Path(__file__).resolve().parents[2]


def test_register_adds_data_to_a_parent_parser():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "verify", "mnist-test", "usps"])
    assert args.names == ["mnist-test", "usps"] and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["data", "verify"])  # at least one NAME


def test_verify_prints_one_line_per_file(real_data, capsys):
    real_data("mnist-test")
    assert main(["data", "verify", "mnist-test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, f in zip(lines, DATASETS["mnist-test"].all_files):
        assert line.startswith("ok ") and f.filename in line and f"sha256={f.sha256}" in line


def test_fetch_copies_then_reports_present(monkeypatch, isolated_data_env, tiny_mnist_test, capsys):
    folder, _, _, _ = tiny_mnist_test
    monkeypatch.setenv("REPRO_DATA_MIRRORS", str(folder))
    assert main(["data", "fetch", "mnist-test"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in first] == ["copied", "copied"]
    assert all(str(isolated_data_env / "mnist") in line for line in first)
    assert main(["data", "fetch", "mnist-test"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["present"] * 2


def test_failures_exit_non_zero_with_the_message(capsys):
    assert main(["data", "verify", "usps", "nope"]) == 1
    err = capsys.readouterr().err
    assert "error: Dataset 'usps' cannot be loaded" in err and "kaggle.com" in err
    assert "Unknown dataset 'nope'" in err and "mnist-full" in err


def test_list_names_every_dataset(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for spec in DATASETS.values():
        assert spec.name in out
        assert all((f.sha256 or "none-published") in out for f in spec.all_files)


def test_python_m_repro_data_verify(real_data, tmp_path):
    real_data("mnist-test")
    if not (REPO / "src" / "repro" / "__main__.py").is_file():
        pytest.skip("repro/__main__.py does not exist yet")
    env = {**os.environ, "REPRO_DATA_DIR": str(tmp_path / "raw")}
    done = subprocess.run([sys.executable, "-m", "repro", "data", "verify", "mnist-test"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ok ") == 2 and "t10k-labels-idx1-ubyte.gz" in done.stdout
    env["REPRO_DATA_MIRRORS"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "repro", "data", "verify", "mnist-test"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode != 0 and "t10k-images-idx3-ubyte.gz" in done.stderr
