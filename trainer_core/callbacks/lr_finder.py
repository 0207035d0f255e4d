"""``LearningRateFinder`` (Lightning's ``callbacks.lr_finder``); it lives beside the search."""

from trainer_core.tuner.lr_finder import LearningRateFinder

__all__ = ["LearningRateFinder"]
