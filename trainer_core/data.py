"""Batches and dataloaders: device transfer, batch-size inference, batch limits."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset, SequentialSampler

from trainer_core.utilities.exceptions import MisconfigurationException


def move_data_to_device(batch: Any, device: torch.device | str) -> Any:
    """Move every tensor (or object with ``.to``) in a nested collection to ``device``."""
    if not isinstance(device, torch.device):
        device = torch.device(device)
    non_blocking = device.type in ("cuda", "xpu")
    return _apply_to_tensors(batch, lambda t: t.to(device, non_blocking=non_blocking))


def _apply_to_tensors(data: Any, fn: Any) -> Any:
    kind = type(data)
    if kind is torch.Tensor or isinstance(data, torch.Tensor):
        return fn(data)
    if kind is tuple or kind is list:  # the common case first: no ABC isinstance checks
        return kind(_apply_to_tensors(v, fn) for v in data)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, Mapping):
        return kind({k: _apply_to_tensors(v, fn) for k, v in data.items()})  # type: ignore[call-arg]
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return kind(*(_apply_to_tensors(v, fn) for v in data))
    if isinstance(data, (list, tuple)):
        return kind(_apply_to_tensors(v, fn) for v in data)
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        values = {
            f.name: _apply_to_tensors(getattr(data, f.name), fn) for f in dataclasses.fields(data)
        }
        return dataclasses.replace(data, **values)
    to = getattr(data, "to", None)
    if callable(to) and not isinstance(data, torch.nn.Module):
        try:
            return fn(data)
        except Exception:  # an object with an unrelated `.to` method: leave it alone
            return data
    return data


def extract_batch_size(batch: Any) -> int:
    """size(0) of the first tensor found depth-first; warns if others disagree."""
    sizes = list(_tensor_sizes(batch))
    if not sizes:
        raise MisconfigurationException(
            "Could not infer the batch size from the batch for `self.log(..., on_epoch=True)`: "
            "no tensor found. Pass `self.log(..., batch_size=N)`."
        )
    first = sizes[0]
    if any(s != first for s in sizes[1:]):
        warnings.warn(
            f"Trying to infer the `batch_size` from an ambiguous collection. The batch size we found "
            f"is {first}. To avoid any miscalculations, use `self.log(..., batch_size=batch_size)`.",
            stacklevel=2,
        )
    return first


def _tensor_sizes(batch: Any) -> Iterable[int]:
    if isinstance(batch, torch.Tensor):
        yield 1 if batch.ndim == 0 else int(batch.size(0))
    elif isinstance(batch, (str, bytes)):
        return
    elif isinstance(batch, Mapping):
        for v in batch.values():
            yield from _tensor_sizes(v)
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        for f in dataclasses.fields(batch):
            yield from _tensor_sizes(getattr(batch, f.name))
    elif isinstance(batch, Iterable):
        for v in batch:
            yield from _tensor_sizes(v)


def dataloader_length(dataloader: Any) -> float:
    """Number of batches, or inf when the loader has no length."""
    dataset = getattr(dataloader, "dataset", None)
    if isinstance(dataset, IterableDataset):
        try:
            return len(dataloader)
        except TypeError:
            return math.inf
    try:
        return len(dataloader)
    except (TypeError, NotImplementedError):
        return math.inf


def check_limit(name: str, value: int | float) -> int | float:
    """Validate a limit_*_batches / overfit_batches value; 2.0 becomes 2."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise MisconfigurationException(
            f"`{name}` must be an int >= 0 or a float in [0.0, 1.0], got {value!r}."
        )
    if isinstance(value, float) and value > 1.0:
        if not value.is_integer():
            raise MisconfigurationException(
                f"`{name}` must be an int or a float in [0.0, 1.0], got {value}."
            )
        return int(value)
    return value


def apply_limit(name: str, length: float, limit: int | float) -> float:
    """Batches to run out of ``length`` under a limit (int = count, float = fraction)."""
    if isinstance(limit, int):
        return min(length, limit)
    if limit == 1.0:
        return length
    if math.isinf(length):
        raise MisconfigurationException(
            f"`{name}={limit}` is a fraction, but the dataloader has no length. Pass an int or 1.0."
        )
    batches = int(length * limit)
    if limit > 0 and batches == 0 and length > 0:
        raise MisconfigurationException(
            f"You requested to check {limit} of the dataloader but {limit} * {int(length)} < 1. "
            f"Please increase `{name}` or pass an int."
        )
    return batches


def sequential_copy(dataloader: Any) -> Any:
    """The same DataLoader without shuffling (for overfit_batches)."""
    if not isinstance(dataloader, DataLoader) or isinstance(dataloader.sampler, SequentialSampler):
        return dataloader
    if isinstance(dataloader.dataset, IterableDataset):
        return dataloader
    batch_sampler = dataloader.batch_sampler
    if batch_sampler is None or type(batch_sampler).__name__ != "BatchSampler":
        return dataloader
    return DataLoader(
        dataloader.dataset,
        batch_size=dataloader.batch_size,
        shuffle=False,
        num_workers=dataloader.num_workers,
        collate_fn=dataloader.collate_fn,
        pin_memory=dataloader.pin_memory,
        drop_last=dataloader.drop_last,
        timeout=dataloader.timeout,
        worker_init_fn=dataloader.worker_init_fn,
        persistent_workers=dataloader.persistent_workers,
    )


class IndexBatchSamplerWrapper:
    """Wraps a batch sampler and records each batch's sample indices (``seen_batch_indices``),
    so prediction writers know which rows a prediction belongs to (Lightning's wrapper)."""

    def __init__(self, batch_sampler: Any) -> None:
        self.__dict__ = {
            k: v
            for k, v in batch_sampler.__dict__.items()
            if k not in ("__next__", "__iter__", "__len__", "__getstate__")
        }
        self.seen_batch_indices: list[list[int]] = []
        self._batch_sampler = batch_sampler
        self._iterator: Any = None

    def __iter__(self) -> IndexBatchSamplerWrapper:
        self.seen_batch_indices = []
        self._iterator = iter(self._batch_sampler)
        return self

    def __next__(self) -> list[int]:
        batch = next(self._iterator)
        self.seen_batch_indices.append(batch)
        return batch  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self._batch_sampler)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_iterator"] = None  # a generator cannot be pickled (worker processes)
        return state


def with_index_tracking(dataloader: Any) -> Any:
    """A copy of a plain map-style DataLoader whose batch sampler records indices.

    Other loaders (subclasses, iterable datasets) come back unchanged: their indices are unknown.
    """
    if type(dataloader) is not DataLoader or isinstance(dataloader.dataset, IterableDataset):
        return dataloader
    if dataloader.batch_sampler is None:
        return dataloader
    return DataLoader(
        dataloader.dataset,
        batch_sampler=IndexBatchSamplerWrapper(dataloader.batch_sampler),
        num_workers=dataloader.num_workers,
        collate_fn=dataloader.collate_fn,
        pin_memory=dataloader.pin_memory,
        timeout=dataloader.timeout,
        worker_init_fn=dataloader.worker_init_fn,
        multiprocessing_context=dataloader.multiprocessing_context,
        generator=dataloader.generator,
        prefetch_factor=dataloader.prefetch_factor,
        persistent_workers=dataloader.persistent_workers,
        pin_memory_device=dataloader.pin_memory_device,
    )


def as_dataloader_list(dataloaders: Any) -> list[Any]:
    """Normalise one loader / a list / a dict of loaders into a list."""
    if dataloaders is None:
        return []
    if isinstance(dataloaders, Mapping):
        return list(dataloaders.values())
    if isinstance(dataloaders, (list, tuple)):
        return list(dataloaders)
    return [dataloaders]


class CycleLoaders:
    """Several train loaders in Lightning's "max_size_cycle" mode: run as long as the longest,
    restarting the shorter ones; each batch is a list (or dict) of one batch per loader."""

    def __init__(self, loaders: Any) -> None:
        self.keys = list(loaders) if isinstance(loaders, Mapping) else None
        self.loaders = list(loaders.values()) if isinstance(loaders, Mapping) else list(loaders)

    def __len__(self) -> int:
        lengths = [dataloader_length(loader) for loader in self.loaders]
        if any(math.isinf(n) for n in lengths):
            raise TypeError("a loader without length")
        return int(max(lengths))

    def __iter__(self) -> Any:
        iterators = [iter(loader) for loader in self.loaders]
        exhausted = [False] * len(iterators)
        while True:
            batch = []
            for i, loader in enumerate(self.loaders):
                try:
                    batch.append(next(iterators[i]))
                except StopIteration:
                    exhausted[i] = True
                    if all(exhausted):
                        return
                    iterators[i] = iter(loader)
                    batch.append(next(iterators[i]))
            if all(exhausted):
                return
            yield dict(zip(self.keys, batch, strict=True)) if self.keys is not None else batch
