"""One module per study: composes data, models, the training loop and analyses into a single run.

Scripts under ``scripts/`` call these functions with the config sub-tree their rule carries; all of a
study's science is here (and in the modules it composes), none in the Snakemake layer.
"""
