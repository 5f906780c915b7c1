import json
import types

from repro.report.provenance import (PROVENANCE_KEYS, backend_gpus, collect_provenance,
                                     git_state)


def test_required_keys_and_json(tmp_path):
    info = collect_provenance(profile="smoke", seeds=[0, 1],
                              datasets={"mnist": {"train.gz": "ab" * 32}},
                              wall_time_s={"total": 3.5}, extra={"note": "x"}, probe_gpus=False)
    assert set(info) == set(PROVENANCE_KEYS)
    assert info["seeds"] == [0, 1] and info["wall_time_s"] == {"total": 3.5}
    assert set(info["git"]) == {"sha", "dirty", "dirty_files"}
    for package in ("keras", "numpy", "scipy", "scikit-learn", "faiss-cpu", "papermill", "dvc"):
        assert package in info["packages"]
    assert info["packages"]["numpy"]                      # installed -> a version string
    assert info["keras_backend"] in ("tensorflow", "jax", "torch", "numpy")
    assert {"cpu", "cores_logical", "ram_gb", "gpus"} <= set(info["device"])
    assert info["device"]["cores_logical"] >= 1 and info["device"]["ram_gb"] > 0
    assert info["timestamp_utc"].endswith("+00:00")
    json.dumps(info)


def test_git_unknown_outside_a_repository_or_without_git(tmp_path, monkeypatch):
    assert git_state(tmp_path) == {"sha": "unknown", "dirty": None, "dirty_files": []}
    monkeypatch.setenv("PATH", str(tmp_path))            # no git executable at all
    assert git_state() == {"sha": "unknown", "dirty": None, "dirty_files": []}


def test_gpus_of_an_already_imported_backend(monkeypatch):
    cuda = types.SimpleNamespace(device_count=lambda: 1, get_device_name=lambda i: "Fake H200")
    monkeypatch.setitem(__import__("sys").modules, "torch", types.SimpleNamespace(cuda=cuda))
    assert backend_gpus("torch", probe=False) == ["Fake H200"]
    assert backend_gpus("mxnet") == "unknown backend 'mxnet'"


def test_dirty_ignores_the_stage_own_outputs(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                        *args], check=True, capture_output=True)

    (tmp_path / "reports" / "paper").mkdir(parents=True)
    (tmp_path / "reports" / "paper" / "results.csv").write_text("a\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "init")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "reports" / "paper" / "results.csv").unlink()  # what `dvc repro` does first
    assert git_state(tmp_path)["dirty"] is True
    assert git_state(tmp_path, ignore=("reports/paper/",))["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path, ignore=("reports/paper",))["dirty"] is True
    assert git_state(tmp_path, ignore=("reports/paper",))["dirty_files"] == ["code.py"]
    assert git_state(tmp_path, ignore=("reports", "code.py"))["dirty"] is False  # a file, too
