"""Every app's tests run: a folder of tests missing from pytest's testpaths would be skipped in CI unnoticed."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_folder_with_tests_is_in_testpaths():
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    folders = {path.relative_to(ROOT).parts[0] for path in ROOT.glob("*/**/test_*.py")}
    folders -= {".venv", "var", "bench"}
    assert folders - set(testpaths) == set()
