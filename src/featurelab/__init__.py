"""featurelab: toy-model studies of which features neural networks learn and how they represent them.

The package holds the science (data generators, models, training, analysis, plotting); the Snakemake
workflow under ``workflow/`` only wires it into a DAG. Importing the package is cheap on purpose:
subpackages import torch, pandas or matplotlib only where they are needed, so a training job never
pays for plotting libraries.
"""

__version__ = "0.1.0"
