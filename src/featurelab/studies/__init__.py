"""One package per study: its data, model, training, analysis, claims and figures.

Every study uses the same module names for the same job, so a reader finds the same thing in the same
place in each (a module is left out where the study has nothing of that kind):

- ``__init__``: what the study reproduces, ``STUDY`` (the study's name, defined here only, so that every
  module names its random streams and rows the same way), and ``config_errors(config)``, its semantic
  config checks (found there by :func:`featurelab.config.semantic_errors`); imports nothing heavy,
  because validating a config imports it.
- ``data``: the inputs the study generates (MNIST studies use the shared :mod:`featurelab.mnist`).
- ``model``: the networks (torch).
- ``train``: a run of the study, as the rules' training jobs call it; imports torch, NumPy and pyarrow
  only (never pandas or matplotlib: start-up is a real share of these short jobs).
- ``evaluate``: measurements that need the trained networks (torch), where a study has them.
- ``analysis``: per-run analysis and the aggregation over seeds (NumPy, pandas; no torch).
- ``claims``: ``TITLE`` and ``evaluate(tables, params)``: the paper's claims, each declared once as a
  :class:`featurelab.claims.Claim` and judged over seeds by :func:`featurelab.claims.judge_claims`.
- ``figures``: ``FIGURES`` (names) and ``draw(figure, tables, params)`` (matplotlib; no torch).

The rules call these through three generic scripts (``scripts/step.py``, ``scripts/figure.py`` and
``scripts/claims.py``), named by ``params: step=step("<study>.<module>:<function>")``.
"""
