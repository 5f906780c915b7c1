import json

import pytest

from repro.report.atomic import (staged_directory, write_csv_atomic, write_json_atomic,
                                 write_text_atomic)


def _old_report(tmp_path):
    final = tmp_path / "reports" / "gapdcec" / "quick"
    final.mkdir(parents=True)
    (final / "old.txt").write_text("old")
    return final


def test_success_replaces_the_old_folder(tmp_path):
    final = _old_report(tmp_path)
    with staged_directory(final) as staging:
        assert staging.parent == final.parent and staging.name.startswith(".staging-quick-")
        assert (final / "old.txt").exists()          # untouched while the stage runs
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert [p.name for p in final.parent.iterdir()] == ["quick"]   # nothing left behind


def test_exception_keeps_the_old_folder_and_removes_the_staging(tmp_path):
    final = _old_report(tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        with staged_directory(final) as staging:
            (staging / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert (final / "old.txt").read_text() == "old"
    assert [p.name for p in final.parent.iterdir()] == ["quick"]


def test_first_run_creates_the_folder_and_parents(tmp_path):
    final = tmp_path / "figures" / "p" / "smoke"
    with staged_directory(final) as staging:
        (staging / "a.png").write_bytes(b"x")
    assert (final / "a.png").read_bytes() == b"x"


def test_nested_stagings_commit_together(tmp_path):
    reports, figures = tmp_path / "reports" / "q", tmp_path / "figures" / "q"
    with staged_directory(reports) as r, staged_directory(figures) as f:
        (r / "x").write_text("1")
        (f / "y").write_text("2")
    assert (reports / "x").exists() and (figures / "y").exists()


def test_atomic_files_overwrite_and_leave_no_temporaries(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two ✓")
    assert path.read_text(encoding="utf-8") == "two ✓"
    write_json_atomic(tmp_path / "m.json", {"acc": float("nan"), "n": 3, "t": (1, 2)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"acc": None, "n": 3, "t": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "sub"]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.txt"]


def test_json_refuses_unknown_objects(tmp_path):
    with pytest.raises(TypeError, match="object"):
        write_json_atomic(tmp_path / "x.json", {"a": object()})
    assert not list(tmp_path.iterdir())


def test_csv(tmp_path):
    import pandas as pd

    write_csv_atomic(tmp_path / "a.csv", pd.DataFrame({"a": [1, 2]}))
    assert (tmp_path / "a.csv").read_text() == "a\n1\n2\n"
