"""Seeding: ``seed_everything``, dataloader worker seeds, and RNG isolation."""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

_MAX_SEED = 2**32 - 1


def seed_everything(seed: int | None = None, workers: bool = False, verbose: bool = True) -> int:
    """Seed python, numpy and torch; remember the seed (and ``workers``) in the environment."""
    if seed is None:
        env_seed = os.environ.get("PL_GLOBAL_SEED")
        if env_seed is None:
            seed = 0
            warnings.warn(f"No seed found, seed set to {seed}", stacklevel=2)
        else:
            try:
                seed = int(env_seed)
            except ValueError:
                seed = 0
                warnings.warn(f"Invalid seed found: {env_seed!r}, seed set to {seed}", stacklevel=2)
    elif not isinstance(seed, int):
        seed = int(seed)
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"{seed} is not in bounds, numpy accepts from 0 to {_MAX_SEED}")
    if verbose:
        print(f"Seed set to {seed}")
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    os.environ["PL_SEED_WORKERS"] = f"{int(workers)}"
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed


def reset_seed() -> None:
    """Re-apply the seed from the environment (if ``seed_everything`` was called)."""
    seed = os.environ.get("PL_GLOBAL_SEED")
    if seed is not None:
        seed_everything(int(seed), workers=os.environ.get("PL_SEED_WORKERS") == "1", verbose=False)


def worker_init_function(worker_id: int, rank: int | None = None) -> None:
    """Give every dataloader worker distinct torch/random/numpy seeds from (seed, worker, rank)."""
    global_rank = rank if rank is not None else 0
    process_seed = torch.initial_seed()
    base_seed = process_seed - worker_id
    sequence = np.random.SeedSequence([base_seed & _MAX_SEED, worker_id, global_rank])
    torch_seed, random_seed, np_seed = sequence.generate_state(3, dtype=np.uint64).tolist()
    torch.manual_seed(torch_seed)
    random.seed(random_seed)
    np.random.seed(np_seed & _MAX_SEED)


def workers_should_be_seeded() -> bool:
    return os.environ.get("PL_SEED_WORKERS", "0") == "1"


def _collect_rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch.cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "torch.cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])
    np.random.set_state(states["numpy"])
    version, state, gauss = states["python"]
    random.setstate((version, tuple(state), gauss))


@contextmanager
def isolate_rng() -> Iterator[None]:
    """Run a block without changing the RNG streams that code after it sees."""
    states = _collect_rng_states()
    try:
        yield
    finally:
        _set_rng_states(states)
