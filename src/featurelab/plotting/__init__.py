"""Figures. ``style`` holds the shared look; one module per study draws its figure family."""
