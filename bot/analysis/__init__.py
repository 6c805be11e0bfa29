"""Footprint prediction: which files will each task touch? Pure functions over a RepoSnapshot."""

from bot.analysis.footprint import RepoSnapshot, predict_footprint, predict_footprints

__all__ = ["RepoSnapshot", "predict_footprint", "predict_footprints"]
