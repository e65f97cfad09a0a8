"""Session fixtures; the helpers they use (paths, configs, the snakemake runner) are in tests/helpers.py."""

from __future__ import annotations

import pytest

from tests.helpers import TinyTrees


@pytest.fixture(scope="session")
def tiny_trees(tmp_path_factory) -> TinyTrees:
    """The tiny workflow built once for the whole session (each study when first asked for); tests take
    copies with ``tiny_trees.workdir(dest, studies)``."""
    return TinyTrees(tmp_path_factory.mktemp("tiny_trees"))
