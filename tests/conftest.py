"""Session fixtures; the helpers they use (paths, configs, the snakemake runner) are in tests/helpers.py."""

from __future__ import annotations

import pytest

from tests.helpers import TinyTrees


@pytest.fixture(scope="session")
def tiny_trees(request, tmp_path_factory) -> TinyTrees:
    """The tiny workflow built once for the whole session; tests take copies with
    ``tiny_trees.workdir(dest, studies)``. Every study that a collected test's module names in
    ``TINY_STUDIES`` is built at the first request, in one run."""
    wanted = {
        study
        for item in request.session.items
        if "tiny_trees" in getattr(item, "fixturenames", ())
        for study in getattr(getattr(item, "module", None), "TINY_STUDIES", ())
    }
    return TinyTrees(tmp_path_factory.mktemp("tiny_trees"), prebuild=wanted)
