"""Stage dependency lists: the static import closure, and dvc.yaml listing exactly it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from repro.__main__ import main
from repro.deps import check, import_closure, stage_dependencies

REPO = Path(__file__).resolve().parents[1]


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def fake_root(tmp_path) -> Path:
    """A tiny ``repro`` package: a -(lazy, relative)-> b -(absolute)-> c; d is unrelated."""
    return write(tmp_path, {
        "src/repro/__init__.py": "",
        "src/repro/a.py": "import numpy\n\ndef f():\n    from .b import g\n    return g()\n",
        "src/repro/b.py": "from repro.c import thing\n\ndef g():\n    return thing\n",
        "src/repro/c.py": "import os\nthing = 1\n",
        "src/repro/d.py": "from repro import a\n",
        "src/repro/pkg/__init__.py": "from .inner import x\n",
        "src/repro/pkg/inner.py": "from .. import c\nx = 1\n",
        "src/repro/pkg/other.py": "",
        "src/repro/e.py": "from repro.pkg import other\nimport repro.pkg.inner as inner\n",
    })


def test_closure_follows_lazy_relative_and_absolute_imports(fake_root):
    assert import_closure("repro.a", fake_root) == [
        "src/repro/__init__.py", "src/repro/a.py", "src/repro/b.py", "src/repro/c.py"]


def test_closure_of_packages_and_submodules_named_in_from_imports(fake_root):
    # `from repro.pkg import other` runs pkg/__init__.py (which imports .inner) and other.py;
    # inner.py's `from .. import c` resolves to repro.c.
    assert import_closure("repro.e", fake_root) == [
        "src/repro/__init__.py", "src/repro/c.py", "src/repro/e.py", "src/repro/pkg/__init__.py",
        "src/repro/pkg/inner.py", "src/repro/pkg/other.py"]


def test_closure_of_a_missing_module_raises(fake_root):
    with pytest.raises(ModuleNotFoundError, match="repro.nope"):
        import_closure("repro.nope", fake_root)


def test_check_requires_file_level_deps(fake_root):
    write(fake_root, {
        "src/repro/pipeline.py": "from repro.config import x\n",
        "src/repro/config.py": "",
        "src/repro/papers/__init__.py": "",
        "src/repro/papers/toy.py": "from repro import a\n",
        "dvc.yaml": yaml.safe_dump({"stages": {"toy": {"cmd": "python -m repro stage toy", "deps": [
            "notebooks/toy.ipynb", "src/repro/papers", "src/repro/pipeline.py",
            "data/raw/mnist"]}}}),
    })
    needed = stage_dependencies("toy", fake_root)
    assert needed == [
        "notebooks/toy.ipynb", "src/repro/__init__.py", "src/repro/a.py", "src/repro/b.py",
        "src/repro/c.py", "src/repro/config.py", "src/repro/papers/__init__.py",
        "src/repro/papers/toy.py", "src/repro/papers/toy.yaml", "src/repro/pipeline.py"]
    missing, extra = check("toy", fake_root)
    assert extra == ["src/repro/papers"]  # a folder covers files, but is not accepted
    assert missing == sorted(set(needed) - {"notebooks/toy.ipynb", "src/repro/pipeline.py"})
    assert main(["deps", "toy", "--check", "--root", str(fake_root)]) == 1


def test_write_replaces_the_deps_block_and_keeps_data_entries(fake_root):
    write(fake_root, {
        "src/repro/pipeline.py": "from repro.config import x\n",
        "src/repro/config.py": "",
        "src/repro/papers/__init__.py": "",
        "src/repro/papers/toy.py": "from repro import a\n",
        "dvc.yaml": "stages:\n  toy:\n    cmd: python -m repro stage toy\n    deps:\n"
                    "      - src/repro/papers\n      - data/raw/mnist\n    params:\n      - toy\n"
                    "  other:\n    cmd: echo\n    deps:\n      - keep/me\n",
    })
    assert main(["deps", "toy", "--write", "--root", str(fake_root)]) == 0
    stages = yaml.safe_load((fake_root / "dvc.yaml").read_text())["stages"]
    assert stages["toy"]["deps"] == stage_dependencies("toy", fake_root) + ["data/raw/mnist"]
    assert stages["toy"]["params"] == ["toy"] and stages["other"]["deps"] == ["keep/me"]
    assert check("toy", fake_root) == ([], [])


def test_cli_prints_yaml_list_items(capsys):
    assert main(["deps", "gapdcec"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"      - {d}" for d in stage_dependencies("gapdcec")]


def paper_stages() -> list[tuple[str, list[str]]]:
    """(paper, dvc.yaml deps) of every ``python -m repro stage PAPER`` stage."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    out = []
    for name, stage in stages.items():
        cmd = str(stage.get("cmd", "")).split()
        if name != "data" and cmd[:4] == ["python", "-m", "repro", "stage"]:
            out.append((cmd[4], [str(d) for d in stage.get("deps", [])]))
    return out


def _indented(paths: list[str]) -> str:
    return "".join(f"\n    {p}" for p in paths) or " none"


@pytest.mark.parametrize("paper, declared", paper_stages(), ids=[p for p, _ in paper_stages()])
def test_dvc_stage_lists_exactly_the_imported_files(paper, declared):
    listed = sorted(d.rstrip("/") for d in declared if not d.startswith("data/raw/"))
    needed = stage_dependencies(paper, REPO)
    missing, extra = sorted(set(needed) - set(listed)), sorted(set(listed) - set(needed))
    assert listed == needed, (
        f"dvc.yaml stage {paper!r}: deps are not exactly the files its code imports.\n"
        f"  missing:{_indented(missing)}\n"
        f"  extra (folders must be listed file by file):{_indented(extra)}\n"
        f"Run `python -m repro deps {paper}` and paste its output as the stage's deps "
        f"(keep the data/raw/... entries).")


def test_gapdcec_does_not_depend_on_bqdec_but_pqdec_does():
    assert "src/repro/methods/bqdec.py" not in stage_dependencies("gapdcec")
    assert "src/repro/methods/bqdec.py" in stage_dependencies("pqdec")
