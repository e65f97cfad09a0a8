"""Dataset generators and loaders. Each module is NumPy-only so dataset jobs never import torch."""
