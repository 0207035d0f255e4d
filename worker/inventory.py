"""What a worker owns: its GPUs (detected, or declared with `--gpus`), CPU slots, pool, labels.

Detection: NVML (`nvidia-ml-py`) when the module is there, else `torch.cuda`. `--gpus 0,1` on a
machine where no GPU is visible declares a simulated inventory (how tests and benchmarks give a
CPU machine GPUs: jobs get CUDA_VISIBLE_DEVICES as on a real one); on a machine with GPUs,
naming one it does not have is refused. `--gpus none` runs CPU jobs only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

LABEL = re.compile(r"^([A-Za-z0-9_.\-/]{1,64})=([A-Za-z0-9_.\-/:]{0,128})$")
POOL = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_CPU_SLOTS = 256


class InventoryError(ValueError):
    """A worker option that cannot be honoured; the worker refuses to start with this message."""


@dataclass(frozen=True)
class Gpu:
    index: int
    uuid: str | None = None
    name: str = "simulated"
    memory_mb: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "uuid": self.uuid,
            "name": self.name,
            "memory_mb": self.memory_mb,
        }


@dataclass
class Inventory:
    gpus: list[Gpu]
    cpu_slots: int = 1
    pool: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    simulated: bool = False

    @property
    def slots(self) -> int:
        """Jobs it can run at once: one per GPU (1-GPU jobs) plus its CPU slots."""
        return len(self.gpus) + self.cpu_slots


def detect_gpus() -> list[Gpu]:
    """The GPUs this machine shows: NVML when importable, else torch.cuda; [] when none."""
    try:
        import pynvml
    except ImportError:
        return _torch_gpus()
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # no driver: no GPU here
        return []
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                Gpu(
                    index,
                    _text(pynvml.nvmlDeviceGetUUID(handle)),
                    _text(pynvml.nvmlDeviceGetName(handle)),
                    int(memory.total) // 2**20,
                )
            )
        return gpus
    finally:
        pynvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _torch_gpus() -> list[Gpu]:
    import torch

    if not torch.cuda.is_available():
        return []
    return [
        Gpu(
            i,
            str(getattr(torch.cuda.get_device_properties(i), "uuid", "")) or None,
            torch.cuda.get_device_name(i),
            int(torch.cuda.get_device_properties(i).total_memory) // 2**20,
        )
        for i in range(torch.cuda.device_count())
    ]


def parse_gpus(value: str | None) -> list[int] | None:
    """'0,1' -> [0, 1]; 'none' -> []; None or 'auto' -> None (all visible GPUs)."""
    if value is None or value.strip().lower() in ("", "auto", "all"):
        return None
    if value.strip().lower() == "none":
        return []
    try:
        indices = [int(part) for part in value.split(",")]
    except ValueError:
        raise InventoryError(
            f"--gpus {value!r}: give GPU indices like 0,1, or 'none', or 'auto'"
        ) from None
    if any(i < 0 or i > 1023 for i in indices) or len(set(indices)) != len(indices):
        raise InventoryError(f"--gpus {value!r}: indices must be distinct and between 0 and 1023")
    return indices


def parse_labels(values: list[str]) -> dict[str, str]:
    labels = {}
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            match = LABEL.match(item)
            if match is None:
                raise InventoryError(f"--label {item!r}: give key=value (letters, digits, _.-/)")
            labels[match.group(1)] = match.group(2)
    return labels


def build_inventory(
    gpus: str | None,
    cpu_slots: int,
    pool: str,
    labels: list[str],
    visible: list[Gpu] | None = None,
) -> Inventory:
    """The worker's inventory from its options and the GPUs the machine shows (detected when
    `visible` is None); InventoryError says what to fix."""
    if not 0 <= cpu_slots <= MAX_CPU_SLOTS:
        raise InventoryError(f"--cpu-slots {cpu_slots}: give 0 to {MAX_CPU_SLOTS}")
    if POOL.match(pool) is None:
        raise InventoryError(f"--pool {pool!r}: letters, digits, '_', '.', '-' (up to 64)")
    wanted = parse_gpus(gpus)
    if visible is None:
        visible = detect_gpus() if wanted != [] else []
    inventory = Inventory([], cpu_slots, pool, parse_labels(labels))
    if wanted is None:
        inventory.gpus = list(visible)
    elif not visible:
        inventory.gpus = [Gpu(i) for i in wanted]
        inventory.simulated = bool(wanted)
    else:
        by_index = {g.index: g for g in visible}
        missing = [i for i in wanted if i not in by_index]
        if missing:
            raise InventoryError(
                f"--gpus {gpus}: this machine has no GPU {missing} (it has "
                f"{sorted(by_index)}); name GPUs it has, or leave --gpus out to use all"
            )
        inventory.gpus = [by_index[i] for i in wanted]
    if inventory.slots == 0:
        raise InventoryError("no GPU and --cpu-slots 0: this worker could never run a job")
    return inventory


def gpu_readings(indices: list[int]) -> dict[str, Any] | None:
    """NVML's utilisation and memory in use per GPU index; None without NVML."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        readings = {}
        for index in indices:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            readings[str(index)] = {
                "utilization_pct": float(rates.gpu),
                "memory_used_mb": round(int(memory.used) / 2**20, 1),
            }
        return readings
    except Exception:
        log.debug("NVML readings failed", exc_info=True)
        return None
    finally:
        pynvml.nvmlShutdown()
