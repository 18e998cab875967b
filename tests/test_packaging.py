"""The wheel holds every folder of the three packages: setuptools' explicit `packages` list cannot drift."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_every_folder_of_rag_ui_and_eval_is_a_listed_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {ROOT / path: name for name, path in config.get("package-dir", {}).items()}
    wanted = set()
    for top in ("rag", "ui", "eval"):
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]:
            if folder.is_dir() and "__pycache__" not in folder.parts and any(f.is_file() for f in folder.iterdir()):
                wanted.add(".".join(folder.relative_to(ROOT).parts))
    wanted |= set(mapped.values())
    assert sorted(wanted - listed) == []  # a folder left out is missing from the wheel (eval.report was)
    assert sorted(listed - wanted) == []
