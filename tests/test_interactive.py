"""featurelab.interactive and the claims page: what the browser test (tests/test_report.py) does not see."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from featurelab import interactive
from featurelab.claims import claim_row, claims_frame, claims_html


def test_the_palette_is_the_static_figures_palette():
    from matplotlib.colors import to_hex

    from featurelab.plotting import PALETTE

    assert interactive.PALETTE == tuple(to_hex(c) for c in PALETTE)


@pytest.mark.parametrize(
    ("n_epochs", "n_curves", "stride"),
    [(101, 120, 1), (101, 1, 1), (3001, 495, 69), (3001, 198, 30), (10, 10**6, 5)],
)
def test_long_curves_are_thinned_to_fit_the_page(n_epochs, n_curves, stride):
    assert interactive.epoch_stride(n_epochs, n_curves) == stride


def test_thinning_keeps_each_curves_last_epoch():
    frame = pd.DataFrame({"curve": [0] * 10 + [1] * 7, "epoch": list(range(10)) + list(range(7))})
    kept = interactive.thin_epochs(frame, 4, ["curve"])
    assert kept.groupby("curve")["epoch"].apply(list).to_dict() == {0: [0, 4, 8, 9], 1: [0, 4, 6]}


def test_csv_text_rounds_numbers_and_leaves_missing_ones_empty():
    frame = pd.DataFrame({"c": [0, 1], "v": [0.123456789, float("nan")]})
    assert interactive.csv_text(frame, ["c", "v"], numbers=["v"]) == "c,v\n0,0.12346\n1,\n"


def test_a_page_is_self_contained_and_the_same_for_the_same_chart():
    import altair as alt

    chart = alt.Chart(alt.Data(values=[{"x": 1, "y": "</script>"}])).mark_point().encode(x="x:Q", tooltip="y:N")
    bundle = "window.vegaEmbed = function () { return Promise.resolve(); };"
    page = interactive.page(chart, bundle, "a <test>")
    assert page == interactive.page(chart, bundle, "a <test>")
    assert "<title>a &lt;test&gt;</title>" in page
    assert page.count("</script>") == 2  # the data's closing tag is escaped, not ending the element
    assert not re.search(r"<script[^>]+src=", page)


def _claims() -> pd.DataFrame:
    common = dict(measured_what="m", seeds_passing=1, n_seeds=2)
    return claims_frame(
        [
            claim_row("b", "c1", "B <holds>", measured=0.5, threshold=1.0, holds=False, **common),
            claim_row("a", "c2", "A", measured=float("nan"), threshold=2.0, holds=True, **common),
            claim_row(
                "c",
                "c3",
                "C",
                measured=10.0,
                threshold=3.0,
                holds=True,
                precondition="p",
                precondition_met=False,
                **common,
            ),
        ]
    )


def test_the_claims_page_has_every_row_with_sort_keys():
    page = claims_html(_claims(), "study: claims")
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]
    assert len(rows) == 3
    assert "B &lt;holds&gt;" in page and "<holds>" not in page
    measured = [re.findall(r'data-sort="([^"]*)"', row)[4] for row in rows]
    assert measured == ["0.5", "NaN", "10.0"]
    assert [re.search(r'class="(PASS|FAIL)"', row).group(1) for row in rows] == ["FAIL", "PASS", "FAIL"]
    assert "1 of 3 claims PASS" in page
    assert "<script>" in page and "aria-sort" in page
