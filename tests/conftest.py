"""Session fixtures and the test order; the helpers they use (paths, configs, the snakemake runner) are in
tests/helpers.py."""

from __future__ import annotations

import pytest

from tests.helpers import TinyTrees


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests (marker ``e2e``) run after all the others, each group in its usual order: the shared
    tiny tree (``tiny_trees``) is built in the background meanwhile, on the core those tests leave free."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(scope="session", autouse=True)
def tiny_trees(request, tmp_path_factory) -> TinyTrees:
    """The tiny workflow built once for the whole session; tests take copies with
    ``tiny_trees.workdir(dest, studies)``. Every study named in ``TINY_STUDIES`` by the module of a
    collected end-to-end test is built in one run, started in the background when the session starts
    (nothing is built when no such test is collected)."""
    wanted = {
        study
        for item in request.session.items
        if item.get_closest_marker("e2e")
        for study in getattr(getattr(item, "module", None), "TINY_STUDIES", ())
    }
    trees = TinyTrees(tmp_path_factory.mktemp("tiny_trees"), prebuild=wanted)
    trees.start()
    yield trees
    trees.stop()
