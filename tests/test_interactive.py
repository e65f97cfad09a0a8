"""featurelab.interactive and the claims page: what the browser test (tests/test_report.py) does not see."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from featurelab import interactive
from featurelab.claims import Claim, Precondition, judge_claims
from featurelab.claims_report import claims_html


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
    seeds = [0, 1, 2]

    def values(*numbers: float):
        return lambda tables: pd.Series(numbers, index=seeds)

    unlearned = Precondition("p", lambda tables: pd.Series([False, False, True], index=seeds))
    return judge_claims(
        [
            Claim("b", "B <holds>", ">=", 1.0, "s", statistic=values(0.5, 0.52, 0.49), condition="c1"),
            Claim("a", "A", ">=", 2.0, "s", statistic=values(float("nan"), float("nan"), float("nan"))),
            Claim("c", "C", ">=", 3.0, "s", statistic=values(10.0, 10.1, 9.9), precondition=unlearned),
        ],
        {},
        seeds,
        0.8,
    )


def test_the_claims_page_has_every_row_with_sort_keys():
    page = claims_html(_claims(), "study: claims")
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]
    assert len(rows) == 3
    assert "B &lt;holds&gt;" in page and "<holds>" not in page
    estimates = [re.findall(r'data-sort="([^"]*)"', row)[5] for row in rows]
    assert estimates[1] == "NaN" and float(estimates[0]) == pytest.approx(0.50333, abs=1e-4)
    verdicts = [re.search(r'class="(PASS|FAIL|INCONCLUSIVE)"', row).group(1) for row in rows]
    assert verdicts == ["FAIL", "INCONCLUSIVE", "FAIL"]
    assert "Claims of the paper: 0 PASS, 2 FAIL, 1 INCONCLUSIVE" in page
    assert "<script>" in page and "aria-sort" in page
