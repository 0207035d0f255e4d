"""``BatchSizeFinder`` (Lightning's ``callbacks.batch_size_finder``); it lives beside the search."""

from trainer_core.tuner.batch_size_scaling import BatchSizeFinder

__all__ = ["BatchSizeFinder"]
