"""Paths the tests share: the repository's real model and tiny fixtures, the data root's
sentence-transformers reference embeddings, and the `trine` binary built beside the wheel."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def model_dir():
    path = Path(os.environ.get("TRINE_MODEL", REPO / "models" / "all-MiniLM-L6-v2"))
    assert (path / "config.json").exists(), f"{path}: run `make model` first"
    return path


@pytest.fixture(scope="session")
def fixtures():
    return REPO / "crates" / "trine-encoder" / "tests" / "fixtures"


@pytest.fixture(scope="session")
def data_root():
    return Path(os.environ.get("TRINE_DATA_ROOT", REPO.parent / "shared" / "corpora"))


@pytest.fixture(scope="session")
def trine_bin():
    path = Path(os.environ.get("TRINE", REPO / "target" / "release" / "trine"))
    assert path.exists(), f"{path}: build the binary first (`make build`)"
    return path
