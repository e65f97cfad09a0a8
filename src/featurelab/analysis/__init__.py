"""Analyses of trained models and of their training curves."""
