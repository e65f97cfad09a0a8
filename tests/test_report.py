"""`snakemake --report` on a tiny complexity + hierarchy run, opened in headless Chromium.

Chromium comes from Debian's packages (installed by this test when it runs as root and it is missing);
elsewhere the test is skipped with the reason. The report is a single self-contained HTML file: the test
checks that Chromium loads and renders it (the rendered DOM names the workflow and the study category),
that every figure of the study is embedded as an image with its caption, and that the claims table is in it.

The interactive figures and the sortable claims table are driven through the report's own page, as a
reader would: Chromium runs under its DevTools protocol (over a pipe, ``--remote-debugging-pipe``: no
websocket library needed), the test clicks the study and the result's eye button in the report's menu,
and the report shows the embedded page (its own base64 copy) in a frame. Mouse events are dispatched
as real input (``Input.dispatchMouseEvent``) at the positions of the marks in that frame: hovering a heatmap
cell must show the cell's loss from the parquet table, a click on a legend entry must fade every other
line (and a second click bring them back), a click on a column header must sort the claims.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import snakemake

pytestmark = pytest.mark.e2e

#: The studies of the session's shared tiny tree this module copies.
TINY_STUDIES = ["complexity", "hierarchy"]

FIGURES = ["variance_curves", "accuracy_curves", "final_variance"]
INTERACTIVE = {"complexity": ["variance_curves", "accuracy_curves"], "hierarchy": ["loss_heatmap"]}
CHROMIUM_FLAGS = "--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync".split()
#: Chromium's longest address: a frame whose data URI is longer stays blank.
MAX_URL = 2 * 1024 * 1024


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
    """The report of a complete tiny run (a copy of the session's shared tree), and the DOM Chromium
    renders from it."""
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


def embedded_results(html: str) -> dict[str, dict]:
    """The report's results table (path -> entry with ``mime_type`` and ``data_uri``), as its page holds it."""
    found = re.search(r'<script id="results">\s*var results = (.*?);?\s*</script>', html, re.S)
    assert found, "the report has no results table"
    return json.loads(found.group(1))


def decoded(entry: dict) -> bytes:
    return base64.b64decode(entry["data_uri"].split("base64,", 1)[1])


def test_report_is_self_contained(report):
    _, html, _ = report
    assert not re.search(r'src="(?!data:)[^"]+\.(png|js|css)"', html), "the report must not load external files"
    for path, entry in embedded_results(html).items():
        if entry["mime_type"] == "text/html":  # the interactive figures and claims tables it shows in frames
            page = decoded(entry).decode()
            tags = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", page, flags=re.S)  # markup, not code
            assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", tags, re.I), path
            assert len(entry["data_uri"]) < MAX_URL, f"{path}: Chromium would show a blank frame"


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
    assert "claims.html" in dom


def test_the_interactive_figures_are_embedded_as_built(report):
    """Each interactive page is in the report byte for byte (the frame shows the report's own copy)."""
    workdir, html, _ = report
    results = embedded_results(html)
    for study, names in INTERACTIVE.items():
        for name in names:
            path = f"figures/{study}/{name}.html"
            assert results[path]["mime_type"] == "text/html"
            assert decoded(results[path]) == (workdir / path).read_bytes()
            assert "(interactive)" in results[path]["labels"]["figure"]


# ------------------------------------------------------------------------------ Chromium's DevTools


class DevTools:
    """Headless Chromium driven over its DevTools protocol on a pipe (file descriptors 3 and 4 of the
    browser: JSON messages, each ended by a NUL byte), one page attached as a flat session."""

    def __init__(self, browser: str, profile: Path, size: tuple[int, int] = (1300, 1000)) -> None:
        to_browser, self._to = os.pipe()
        self._from, from_browser = os.pipe()

        def as_fds_3_and_4() -> None:  # in the child, before exec
            read, write = os.dup(to_browser), os.dup(from_browser)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.proc = subprocess.Popen(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"]
            + ["--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=as_fds_3_and_4,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id, self.session = b"", 0, None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def send(self, method: str, timeout: float = 60, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to, json.dumps(message).encode() + b"\0")
        end = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buffer:
                left = end - time.monotonic()
                if left <= 0 or not select.select([self._from], [], [], left)[0]:
                    raise TimeoutError(f"Chromium did not answer {method}")
                chunk = os.read(self._from, 1 << 20)
                assert chunk, "Chromium closed its DevTools pipe"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]

    def evaluate(self, expression: str, context: int | None = None):
        """The value of a JavaScript expression (awaited) in the page, or in a frame's ``context``."""
        where = {"contextId": context} if context else {}
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True, **where)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, context: int | None = None, timeout: float = 30):
        """The first truthy value of ``expression`` (``true`` for an element), polled every 0.1 s."""
        end = time.monotonic() + timeout
        probe = f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()"
        while time.monotonic() < end:
            value = self.evaluate(probe, context)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def mouse(self, kind: str, x: float, y: float) -> None:
        """A real mouse event: ``moved``, or ``click`` (press and release of the left button)."""
        if kind == "moved":
            self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
            return
        for event in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=event, x=x, y=y, button="left", clickCount=1)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (AssertionError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to)
        os.close(self._from)


class ReportPage:
    """The report open in Chromium, and the result its reader opened in the report's frame."""

    def __init__(self, tools: DevTools, report: Path) -> None:
        self.tools = tools
        tools.send("Page.enable")
        tools.send("Page.navigate", url=report.as_uri())
        tools.wait_for("document.readyState === 'complete' && document.querySelectorAll('a').length > 3")

    def open_result(self, study: str, label: str) -> int:
        """Click the study in the menu, then the eye button of the result labelled ``label``; the execution
        context of the frame the report then shows it in, once its page has loaded."""
        t = self.tools
        t.evaluate("Array.from(document.querySelectorAll('a')).find(a => a.innerText.trim() === 'Results')?.click()")
        t.wait_for(f"Array.from(document.querySelectorAll('a')).some(a => a.innerText.trim() === {study!r})")
        t.evaluate(f"Array.from(document.querySelectorAll('a')).find(a => a.innerText.trim() === {study!r}).click()")
        row = f"Array.from(document.querySelectorAll('tr')).find(r => Array.from(r.cells).some(c => c.innerText.trim() === {label!r}))"
        t.wait_for(row)
        t.evaluate(f"{row}.querySelector('a').click()")
        t.wait_for(
            "document.querySelector('iframe') && document.querySelector('iframe').src.startsWith('data:text/html')"
        )
        end = time.monotonic() + 30
        while time.monotonic() < end:  # the frame navigates to its data URI: a context of the loaded page
            frames = t.send("Page.getFrameTree")["frameTree"].get("childFrames", [])
            loaded = [f["frame"] for f in frames if f["frame"]["url"].startswith("data:text/html")]
            if loaded:
                try:
                    context = t.send("Page.createIsolatedWorld", frameId=loaded[0]["id"])["executionContextId"]
                    if t.evaluate("document.readyState === 'complete'", context):
                        return context
                except AssertionError:  # the frame was replaced meanwhile
                    pass
            time.sleep(0.2)
        raise AssertionError(f"the report did not show {study}: {label}")

    def frame_offset(self) -> tuple[float, float]:
        box = self.tools.evaluate(
            "(() => { const r = document.querySelector('iframe').getBoundingClientRect(); return [r.x, r.y]; })()"
        )
        return box[0], box[1]

    def centre(self, context: int, element: str) -> tuple[float, float]:
        """Page coordinates of the centre of the frame's element ``element`` (a JavaScript expression)."""
        x0, y0 = self.frame_offset()
        box = self.tools.evaluate(
            f"(() => {{ const r = ({element}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            context,
        )
        return x0 + box[0], y0 + box[1]


@pytest.fixture(scope="module")
def page(report):
    workdir, _, _ = report
    tools = DevTools(chromium(), workdir / "chromium-devtools")
    yield ReportPage(tools, workdir / "report.html"), workdir
    tools.close()


def test_hovering_a_heatmap_cell_shows_its_loss_from_the_table(page):
    """In the report's frame, the mouse over one cell of hierarchy's heatmap: the tooltip shows that
    cell's depth, width and loss (the statistic of the summary table), and every seed's loss."""
    import pandas as pd

    from featurelab.studies.hierarchy.interactive import cell_label, loss_text
    from tests.helpers import tiny

    report, workdir = page
    analysis = tiny()["hierarchy"]["analysis"]
    summary = pd.read_parquet(workdir / "results" / "hierarchy" / "summary.parquet")
    cells = summary[summary["metric"] == analysis["metric"]].copy()
    cells["label"] = [cell_label(v) for v in cells[analysis["statistic"]]]
    unique = cells.groupby("label").filter(lambda g: len(g) == 1)
    assert len(unique) >= 2, "the tiny heatmap needs cells with labels of their own"
    cell = unique.sort_values(analysis["statistic"]).iloc[-1]  # the largest loss whose label is unique
    finals = pd.read_parquet(workdir / "results" / "hierarchy" / "finals.parquet")
    seeds = finals[
        (finals["metric"] == analysis["metric"])
        & (finals["depth"] == cell["depth"])
        & (finals["n_hidden"] == cell["n_hidden"])
    ]

    frame = report.open_result("hierarchy", "loss_heatmap (interactive)")
    tools = report.tools
    tools.wait_for("document.querySelectorAll('g.mark-rect path').length > 0", frame)
    tooltip = "(document.getElementById('vg-tooltip-element') || {innerText: ''}).innerText"
    assert not tools.evaluate(f"{tooltip}.includes('tree depth')", frame)
    label = f"Array.from(document.querySelectorAll('g.mark-text text')).find(t => t.textContent === {cell['label']!r})"
    x, y = report.centre(frame, label)
    tools.mouse("moved", x - 20, y + 15)  # into the cell, off its label
    shown = tools.wait_for(f"{tooltip}.includes('tree depth') && {tooltip}", frame)
    assert loss_text(float(cell[analysis["statistic"]])) in shown, shown
    assert f"{int(cell['depth'])} ({int(cell['n_features'])})" in shown and str(int(cell["n_hidden"])) in shown
    for seed, value in zip(seeds["seed"], seeds["value"]):
        assert f"seed {int(seed)}: {loss_text(float(value))}" in shown, shown


def test_a_legend_click_picks_lines_and_a_second_click_drops_them(page):
    """In the report's frame of complexity's accuracy curves: clicking the legend entry of one seed's line
    fades every other line (the picked line is drawn in every pair's panel); clicking it again shows all."""
    import pandas as pd

    from featurelab.interactive import FADED

    report, workdir = page
    n_pairs = pd.read_parquet(workdir / "results" / "complexity" / "summary.parquet")["condition"].nunique()
    frame = report.open_result("complexity", "accuracy_curves (interactive)")
    tools = report.tools
    opacities = (
        "Array.from(document.querySelectorAll('g.mark-line path')).map(p => Number(p.getAttribute('opacity') ?? 1))"
    )
    tools.wait_for(f"{opacities}.length > 0", frame)
    before = tools.evaluate(opacities, frame)
    assert FADED not in before
    entry = "Array.from(document.querySelectorAll('g.role-legend-label text')).find(t => t.textContent === 'linear · seed 1')"
    report.tools.wait_for(entry, frame)
    x, y = report.centre(frame, entry)
    tools.mouse("click", x, y)
    after = tools.wait_for(f"{opacities}.includes({FADED}) && {opacities}", frame)
    assert len(after) == len(before)
    assert sum(o != FADED for o in after) == n_pairs, after  # the picked seed's line in each panel
    tools.mouse("click", x, y)
    assert tools.wait_for(f"!{opacities}.includes({FADED})", frame)


def test_a_click_on_a_claims_header_sorts_the_table(page):
    """The report's frame of hierarchy's claims: a click on the "estimate" header orders the rows by it,
    a second click the other way."""
    report, _ = page
    frame = report.open_result("hierarchy", "claims")
    tools = report.tools
    column = "Array.from(document.querySelectorAll('th')).findIndex(h => h.textContent.startsWith('estimate'))"
    values = f"Array.from(document.querySelectorAll('tbody tr')).map(r => Number(r.cells[{column}].dataset.sort))"
    tools.wait_for("document.querySelectorAll('tbody tr').length > 2", frame)
    unsorted = tools.evaluate(values, frame)
    finite = [v for v in unsorted if v == v]
    assert finite != sorted(finite), "the tiny claims are already in order: the test would show nothing"
    header = "Array.from(document.querySelectorAll('th')).find(h => h.textContent.startsWith('estimate'))"
    x, y = report.centre(frame, header)
    tools.mouse("click", x, y)
    ascending = tools.evaluate(values, frame)
    assert [v for v in ascending if v == v] == sorted(finite)
    tools.mouse("click", x, y)
    descending = tools.evaluate(values, frame)
    assert [v for v in descending if v == v] == sorted(finite, reverse=True)
