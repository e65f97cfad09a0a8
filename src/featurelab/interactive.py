"""Interactive figures for the HTML report (Vega-Lite through altair): the versions of a study's figures
that a reader explores.

A static PNG shows the mean and every seed at once; its interactive twin lets the reader read the values
under the cursor (hover) and pick out single seeds and features (a legend click adds an entry to, or takes
it from, the entries shown; with none picked all are shown). Each is drawn from the same aggregated
parquet tables as the static figure.

Every page is self-contained: the Vega, Vega-Lite and Vega-Embed libraries are inlined (one bundle, made
once per workflow by vl-convert, :func:`bundle_job`) and the data are in the page, so it opens offline,
inside the Snakemake report and on its own, and fetches nothing. The report shows an HTML result in a
frame whose address is the whole page as a base64 data URI; Chromium refuses addresses over 2 MiB (a
blank frame, no error), which rules out plotly (its library alone is 4.8 MB) and bounds each page to
``PAGE_LIMIT`` bytes: the data go in as compact CSV text with coded names (:func:`csv_text`), values to
``DIGITS`` significant digits, and long curves are thinned to every k-th epoch (:func:`epoch_stride`).
A page over the limit is still written (it opens on its own) and the job logs a warning naming it.
Pages are byte-identical for the same tables.

A study with interactive figures has a module ``<study>/interactive.py`` with ``FIGURES`` (name ->
``fn(tables, params) -> altair chart``) and ``interactive_job(smk)``, which calls :func:`interactive_job`;
its rule ``<study>_interactive`` writes all its pages in one job.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from featurelab.io import read_frame, read_provenance, write_text

log = logging.getLogger("featurelab")

#: seaborn's "colorblind" palette (featurelab.plotting.PALETTE) as hex, without importing seaborn here.
PALETTE: tuple[str, ...] = (
    "#0173b2",
    "#de8f05",
    "#029e73",
    "#d55e00",
    "#cc78bc",
    "#ca9161",
    "#fbafe4",
    "#949494",
    "#ece133",
    "#56b4e9",
)

#: The largest page the report can show in Chromium: its data URI (base64, 4/3 of the bytes, plus a
#: short header) must stay under Chromium's 2 MiB limit on addresses.
PAGE_LIMIT = (2 * 1024 * 1024 - 200) * 3 // 4

#: Significant digits of the values in a page (the hover shows them; more would only grow the page).
DIGITS = 5

#: At most this many points per curve in a page, and in all its curves together (the page must stay under
#: ``PAGE_LIMIT``): longer runs are drawn at every k-th epoch, and their last.
MAX_CURVE_POINTS = 101
MAX_PAGE_POINTS = 22_000

#: Opacity of the entries a legend selection leaves out (faded, so the reader still sees where they are).
FADED = 0.07

#: The line under a figure's title that says how to use it: for figures with a legend selection, and others.
HOW_TO_PICK = (
    "Hover a point for its values. Click legend entries to pick the lines shown (again: drop it; none picked: all)."
)
HOW_TO_HOVER = "Hover a cell for its values."

#: Vega-Embed's options: SVG (sharp at any zoom, exported as SVG/PNG from the ... menu), no links out.
EMBED_OPTIONS = {"renderer": "svg", "actions": {"export": True, "source": False, "compiled": False, "editor": False}}


def vega_lite_version() -> str:
    """The Vega-Lite version altair writes specs for ("v6.4"), which the bundle must match."""
    return ".".join(alt.SCHEMA_VERSION.split(".")[:2])


def bundle_job(smk: Any) -> None:
    """Rule report_vega_bundle: Vega-Embed, Vega-Lite and Vega as one JavaScript file (vl-convert bundles
    the versions it ships; a few seconds, so it is done once and every page inlines the file)."""
    import vl_convert

    write_text(vl_convert.javascript_bundle(vl_version=vega_lite_version()), smk.output[0])


def style(chart: alt.TopLevelMixin, title: str, how_to: str = HOW_TO_HOVER) -> alt.TopLevelMixin:
    """The house style: a title with the statistic, the how-to line, axes without grid (as the static
    figures), the legend right of the panels (off the data)."""
    return (
        chart.properties(
            title=alt.TitleParams(
                title, subtitle=how_to, anchor="start", fontSize=14, subtitleFontSize=11, subtitleColor="#555"
            )
        )
        .configure(font="Arial, Helvetica, sans-serif")
        .configure_axis(grid=False, labelFontSize=11, titleFontSize=12, domainColor="#333", tickColor="#333")
        .configure_legend(orient="right", labelFontSize=11, titleFontSize=12, symbolLimit=0, labelLimit=320)
        .configure_header(labelFontSize=12, titleFontSize=12)
        .configure_view(stroke="#bbb")
    )


def page(chart: alt.TopLevelMixin, bundle: str, title: str) -> str:
    """One self-contained HTML page: the bundle inline, the spec as JSON (sorted keys: the bytes follow
    the data only)."""
    from html import escape

    spec = json.dumps(chart.to_dict(), sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    script = bundle.replace("</script", "<\\/script")  # a closing tag inside would end the element
    options = json.dumps(EMBED_OPTIONS, sort_keys=True)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        "<style>body{margin:8px;font-family:Arial,Helvetica,sans-serif}</style>\n"
        f"<script>{script}</script>\n</head>\n<body>\n"
        '<div id="figure"></div>\n'
        f"<script>vegaEmbed('#figure', {spec}, {options}).catch(console.error);</script>\n"
        "</body>\n</html>\n"
    )


def interactive_job(smk: Any, figures: Mapping[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Any]]) -> None:
    """The job of every ``<study>_interactive`` rule: each named output ``<figure>`` is
    ``figures[<figure>](tables, params)`` as a page. ``tables`` are the rule's named inputs but ``bundle``
    (the JavaScript bundle) read as DataFrames, ``params`` the rule's params but ``step``, with
    ``params["provenance"]`` each table's provenance record (as a figure rule's ``draw`` gets them)."""
    names = [name for name in smk.input.keys() if name != "bundle"]
    tables = {name: read_frame(getattr(smk.input, name)) for name in names}
    params = {k: v for k, v in smk.params.items() if k != "step"}
    params["provenance"] = {name: read_provenance(getattr(smk.input, name)) for name in names}
    unknown = sorted(set(smk.output.keys()) - set(figures))
    if unknown:
        raise ValueError(f"rule {smk.rule}: no interactive figure named {unknown} (known: {sorted(figures)})")
    with open(smk.input.bundle) as fh:
        bundle = fh.read()
    pages = {name: page(figures[name](tables, params), bundle, f"{smk.rule}: {name}") for name in smk.output.keys()}
    for name, text in pages.items():  # all drawn first: a failing figure writes none
        path = getattr(smk.output, name)
        size = len(text.encode())
        if size > PAGE_LIMIT:
            log.warning(
                "%s is %d bytes, over the %d a report frame shows in Chromium: open the file itself",
                path,
                size,
                PAGE_LIMIT,
            )
        write_text(text, path)


def number(value: float) -> str:
    """A value in a page's CSV: ``DIGITS`` significant digits, empty when missing."""
    return "" if value is None or not math.isfinite(value) else f"{value:.{DIGITS}g}"


def csv_text(frame: pd.DataFrame, columns: Sequence[str], numbers: Sequence[str] = ()) -> str:
    """``frame``'s ``columns`` as CSV text for inline Vega-Lite data (a few bytes a row where JSON objects
    repeat every key): the ``numbers`` columns to ``DIGITS`` significant digits, the others as they are
    (integer codes, best)."""
    parts = [frame[c].map(number) if c in numbers else frame[c].astype(str) for c in columns]
    lines = [",".join(columns)] + [",".join(row) for row in zip(*parts)]
    return "\n".join(lines) + "\n"


def csv_data(text: str) -> alt.Data:
    """Inline CSV data; the column types are given by the encodings (``:Q``, ``:O``, ``:N``)."""
    return alt.Data(values=text, format=alt.DataFormat(type="csv"))


def lookup_data(rows: list[dict[str, Any]], key: str, fields: Sequence[str]) -> alt.LookupData:
    """The names behind a code column: a small table joined on ``key`` (the long names are sent once)."""
    return alt.LookupData(data=alt.Data(values=rows), key=key, fields=list(fields))


def epoch_stride(n_epochs: int, n_curves: int) -> int:
    """Every how many epochs each of ``n_curves`` curves of ``n_epochs`` points is drawn, so that a curve
    has at most ``MAX_CURVE_POINTS`` and the page ``MAX_PAGE_POINTS``: 1 at the default config's scale;
    config/full.yaml's complexity variance curves (495 curves of up to 3,001 epochs) at every 69th."""
    most = max(2, min(MAX_CURVE_POINTS, MAX_PAGE_POINTS // max(n_curves, 1)))
    return max(1, math.ceil(n_epochs / most))


def thin_epochs(frame: pd.DataFrame, stride: int, curve: Sequence[str], column: str = "epoch") -> pd.DataFrame:
    """The rows at every ``stride``-th epoch, and each curve's (rows of one ``curve`` key) last epoch,
    where the claims read it."""
    if stride == 1:
        return frame
    last = frame[column] == frame.groupby(list(curve))[column].transform("max")
    return frame[(frame[column] % stride == 0) | last]
