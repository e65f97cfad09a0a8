"""Models. Each study's models live in their own module; all are plain ``torch.nn.Module``s."""
