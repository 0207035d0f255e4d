"""What a worker owns (worker/inventory.py): declared, detected and simulated GPUs, and the
options it refuses at start."""

from __future__ import annotations

import pytest

from worker.inventory import Gpu, InventoryError, build_inventory

TWO_REAL = [Gpu(0, "GPU-aaa", "NVIDIA H200", 143771), Gpu(1, "GPU-bbb", "NVIDIA H200", 143771)]


def test_gpus_named_on_a_machine_without_gpus_are_a_simulated_inventory() -> None:
    inv = build_inventory("0,1", 1, "default", [], visible=[])
    assert [g.index for g in inv.gpus] == [0, 1] and inv.simulated
    assert inv.slots == 3  # two 1-GPU jobs and one CPU job at once


def test_by_default_a_worker_owns_every_gpu_it_sees_and_one_cpu_slot() -> None:
    inv = build_inventory(None, 1, "default", [], visible=TWO_REAL)
    assert inv.gpus == TWO_REAL and not inv.simulated and inv.cpu_slots == 1


def test_defaults_on_a_cpu_machine_run_one_cpu_job() -> None:
    inv = build_inventory(None, 1, "default", [], visible=[])
    assert (inv.gpus, inv.slots, inv.simulated) == ([], 1, False)


def test_a_subset_of_real_gpus_and_none() -> None:
    assert build_inventory("1", 0, "default", [], visible=TWO_REAL).gpus == [TWO_REAL[1]]
    assert build_inventory("none", 2, "default", [], visible=TWO_REAL).gpus == []


def test_naming_a_gpu_the_machine_lacks_is_refused() -> None:
    with pytest.raises(InventoryError, match=r"no GPU \[2\].*it has \[0, 1\]"):
        build_inventory("0,2", 1, "default", [], visible=TWO_REAL)


@pytest.mark.parametrize(
    ("gpus", "cpu_slots", "pool", "labels", "message"),
    [
        ("zero", 1, "default", [], "give GPU indices"),
        ("0,0", 1, "default", [], "distinct"),
        ("-1", 1, "default", [], "give GPU indices|between 0"),
        (None, -1, "default", [], "--cpu-slots"),
        (None, 1, "bad pool!", [], "--pool"),
        (None, 1, "default", ["novalue"], "key=value"),
        ("none", 0, "default", [], "could never run a job"),
    ],
)
def test_bad_worker_options_say_what_to_fix(
    gpus: str | None, cpu_slots: int, pool: str, labels: list[str], message: str
) -> None:
    with pytest.raises(InventoryError, match=message):
        build_inventory(gpus, cpu_slots, pool, labels, visible=[])


def test_labels_from_options_and_the_environment_form() -> None:
    inv = build_inventory(None, 1, "gpu-a", ["gpu=a100,zone=eu-1", "spot=true"], visible=[])
    assert inv.labels == {"gpu": "a100", "zone": "eu-1", "spot": "true"} and inv.pool == "gpu-a"
