"""`snakemake --report` on a tiny complexity run, opened in headless Chromium.

Chromium comes from Debian's packages (installed by this test when it runs as root and it is missing);
elsewhere the test is skipped with the reason. The report is a single self-contained HTML file: the test
checks that Chromium loads and renders it (the rendered DOM names the workflow and the study category),
that every figure of the study is embedded as an image with its caption, and that the claims table is in it.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess

import pytest

from tests.helpers import snakemake

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["complexity"]

FIGURES = ["variance_curves", "accuracy_curves", "final_variance"]
CHROMIUM_FLAGS = "--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync".split()


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("needs Debian's chromium (or root and apt-get to install it)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, capture_output=True, timeout=900
    )
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def report(tiny_trees, tmp_path_factory):
    """The report of a complete tiny complexity run (a copy of the session's shared tree), and the DOM
    Chromium renders from it."""
    browser = chromium()
    workdir, configfile, _ = tiny_trees.workdir(tmp_path_factory.mktemp("report") / "work", TINY_STUDIES)
    snakemake(workdir, "figures/all", "--report", str(workdir / "report.html"), configfile=configfile)
    dom = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={workdir / 'chromium'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            (workdir / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    return workdir, (workdir / "report.html").read_text(), dom.stdout


def test_report_is_self_contained(report):
    _, html, _ = report
    assert not re.search(r'src="(?!data:)[^"]+\.(png|js|css)"', html), "the report must not load external files"


def test_chromium_renders_the_report(report):
    _, _, dom = report
    assert "<body" in dom and len(dom) > 10_000
    rendered = re.sub(r"<script.*?</script>", "", dom, flags=re.S)  # what the page shows, not its data
    assert "featurelab" in rendered or "complexity" in rendered


def test_every_figure_is_embedded_with_its_caption(report):
    workdir, _, dom = report
    for name in FIGURES:
        png = (workdir / "figures" / "complexity" / f"{name}.png").read_bytes()
        assert f"{name}.png" in dom
        # the figure's own bytes, as a data URI in the rendered page
        assert base64.b64encode(png[:300]).decode()[:200] in dom, name
    assert "variance of the penultimate layer" in dom  # variance_curves caption
    assert "feature-complexity sweep" in dom  # final_variance caption


def test_claims_table_is_in_the_report(report):
    _, _, dom = report
    assert "claims.md" in dom
