"""Drawn figures: training curves, the LR-finder plot, run curves, the confusion matrix,
probability bars."""
