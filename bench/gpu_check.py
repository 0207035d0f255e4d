"""The GPU check: run it in one go on a machine with a real GPU; it prints a table.

    .venv/bin/python bench/gpu_check.py

What it checks (each row says ok/FAILED and what it measured):
- the worker's inventory: NVML (nvidia-ml-py) or torch.cuda sees the GPUs; `--gpus` naming a
  GPU the machine lacks is refused;
- CUDA_VISIBLE_DEVICES is honoured: a job process given only the last GPU sees one device, and it
  is that GPU (same UUID); one given "" sees none;
- placement: trainer_core's Trainer(accelerator="gpu") trains on cuda:0;
- 16-mixed and bf16-mixed training steps (bf16 where the GPU supports it) give finite losses;
- a pinned-memory host-to-device transfer, against a pageable one (GB/s);
- a checkpoint saved on the GPU loads on the CPU with the same weights;
- predict on the GPU returns what the model computes.
Exits 1 when a check failed, 2 when no GPU is visible at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import trainer_core as L  # noqa: E402
from bench._common import machine  # noqa: E402
from worker.inventory import InventoryError, build_inventory, detect_gpus  # noqa: E402

ROWS: list[tuple[str, str, str]] = []


class Net(L.LightningModule):
    def __init__(self, width: int = 256) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 1))
        self.devices_seen: set[str] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        self.devices_seen.add(str(x.device))
        loss = nn.functional.mse_loss(self(x).float(), y)
        self.log("train_loss", loss)
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
        return self(batch[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loader(n: int = 512, pin: bool = True) -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 64, generator=generator)
    return DataLoader(TensorDataset(x, x[:, :1] * 2), batch_size=64, pin_memory=pin)


def check(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    def wrap(fn: Callable[[], str]) -> Callable[[], str]:
        def run() -> str:
            try:
                detail = fn()
                ROWS.append((name, "ok", detail))
            except Exception as exc:  # the table reports it; the next check still runs
                ROWS.append((name, "FAILED", f"{type(exc).__name__}: {exc}"[:160]))
            return ""

        CHECKS.append(run)
        return run

    return wrap


CHECKS: list[Callable[[], str]] = []


def fit(precision: str, root: Path) -> tuple[L.Trainer, Net]:
    model = Net()
    trainer = L.Trainer(
        accelerator="gpu", devices=1, max_steps=20, precision=precision,
        default_root_dir=str(root), enable_progress_bar=False, enable_model_summary=False,
        logger=False,
    )  # fmt: skip
    trainer.fit(model, loader())
    return trainer, model


@check("inventory (NVML or torch.cuda)")
def inventory() -> str:
    gpus = detect_gpus()
    assert gpus, "no GPU detected"
    missing = max(g.index for g in gpus) + 1
    try:
        build_inventory(str(missing), 1, "default", [], visible=gpus)
    except InventoryError:
        pass
    else:
        raise AssertionError(f"--gpus {missing} was accepted on a machine without it")
    return "; ".join(f"{g.index}: {g.name}, {g.memory_mb} MiB, {g.uuid}" for g in gpus)


def _child_view(visible: str) -> dict[str, Any]:
    code = (
        "import json, torch; n = torch.cuda.device_count(); "
        "print(json.dumps({'count': n, 'uuid': str(torch.cuda.get_device_properties(0).uuid) "
        "if n else None}))"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": visible}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@check("CUDA_VISIBLE_DEVICES honoured")
def visible_devices() -> str:
    last = torch.cuda.device_count() - 1
    expected = str(torch.cuda.get_device_properties(last).uuid)
    only_last = _child_view(str(last))
    assert only_last == {"count": 1, "uuid": expected}, only_last
    none = _child_view("")
    assert none["count"] == 0, none
    return f"'{last}' -> 1 device (UUID matches GPU {last}); '' -> 0 devices"


@check("placement: Trainer(accelerator='gpu')")
def placement() -> str:
    with tempfile.TemporaryDirectory() as root:
        trainer, model = fit("32-true", Path(root))
    devices = {str(p.device) for p in model.parameters()} | model.devices_seen
    assert devices == {"cuda:0"}, devices
    return f"params and batches on {sorted(devices)}, {trainer.global_step} steps"


@check("16-mixed steps")
def fp16() -> str:
    with tempfile.TemporaryDirectory() as root:
        trainer, _ = fit("16-mixed", Path(root))
    loss = float(trainer.callback_metrics["train_loss"])
    assert torch.isfinite(torch.tensor(loss)), loss
    return f"{trainer.global_step} steps, last loss {loss:.4f}"


@check("bf16-mixed steps")
def bf16() -> str:
    if not torch.cuda.is_bf16_supported():
        return "skipped: this GPU has no bf16"
    with tempfile.TemporaryDirectory() as root:
        trainer, _ = fit("bf16-mixed", Path(root))
    loss = float(trainer.callback_metrics["train_loss"])
    assert torch.isfinite(torch.tensor(loss)), loss
    return f"{trainer.global_step} steps, last loss {loss:.4f}"


def _transfer_gbps(pinned: bool, mib: int = 256, repeats: int = 10) -> float:
    host = torch.empty(mib * 2**20, dtype=torch.uint8)
    host = host.pin_memory() if pinned else host
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        host.to("cuda", non_blocking=pinned)
    torch.cuda.synchronize()
    return mib * repeats / 1024 / (time.perf_counter() - started)


@check("pinned-memory transfer")
def pinned() -> str:
    batch = next(iter(loader(pin=True)))
    assert batch[0].is_pinned(), "DataLoader(pin_memory=True) gave a pageable batch"
    fast, slow = _transfer_gbps(True), _transfer_gbps(False)
    return f"pinned {fast:.1f} GB/s, pageable {slow:.1f} GB/s (256 MiB x 10)"


@check("checkpoint saved on GPU loads on CPU")
def checkpoint() -> str:
    with tempfile.TemporaryDirectory() as root:
        trainer, model = fit("32-true", Path(root))
        path = Path(root) / "gpu.ckpt"
        trainer.save_checkpoint(str(path))
        loaded = Net.load_from_checkpoint(str(path), map_location="cpu")
    for (name, gpu), cpu in zip(
        model.state_dict().items(), loaded.state_dict().values(), strict=True
    ):
        assert cpu.device.type == "cpu", name
        assert torch.equal(gpu.cpu(), cpu), name
    return f"{len(loaded.state_dict())} tensors equal, on cpu"


@check("predict on GPU")
def predict() -> str:
    with tempfile.TemporaryDirectory() as root:
        trainer, model = fit("32-true", Path(root))
        data = loader(n=128, pin=True)
        outputs = trainer.predict(model, data)
    got = torch.cat([o.cpu() for o in outputs])
    with torch.no_grad():
        expected = model.cpu()(torch.cat([b[0] for b in data]))
    assert torch.allclose(got, expected, atol=1e-4), float((got - expected).abs().max())
    return f"{len(got)} predictions match the model's output"


def main() -> int:
    if not torch.cuda.is_available():
        print("no GPU is visible to torch here: run this on a machine with one", file=sys.stderr)
        return 2
    for run in CHECKS:
        run()
    width = max(len(name) for name, _, _ in ROWS)
    title = f"GPU check: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    print(f"\n{title}\n{'-' * len(title)}")
    for name, status, detail in ROWS:
        print(f"  {name:<{width}}  {status:<6}  {detail}")
    print(f"\nmachine: {machine()}; torch {torch.__version__}, CUDA {torch.version.cuda}")
    return 1 if any(status == "FAILED" for _, status, _ in ROWS) else 0


if __name__ == "__main__":
    sys.exit(main())
