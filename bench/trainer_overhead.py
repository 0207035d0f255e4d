"""Per-step overhead of trainer_core's ``fit`` against a hand-written PyTorch loop (and Lightning).

Same model, same DataLoader, same number of optimizer steps. trainer_core and Lightning run with
their default settings (checkpointing and CSV logging on; progress bar and model summary off) and
``self.log`` of the loss every step. The "log every step" row also sends every step's row to the
CSV logger (``log_every_n_steps=1``) from a module that calls ``save_hyperparameters()``, as
trainyard's components do: it measures the per-row logger cost. Runs are interleaved (raw,
trainer_core, lightning, in a rotating order) and the median of ``--repeats`` is reported, so
drift on a shared machine hits every contender alike. Method after
../shared/bench/lightning_vs_raw.py.

    python bench/trainer_overhead.py                      # CPU defaults, about 1-2 minutes
    python bench/trainer_overhead.py --device cuda --json out.json
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

DATA_ROWS = 60_000  # an MNIST-sized epoch, as in the anchor: epoch ends are rare, as in real runs


@dataclass(frozen=True)
class Scenario:
    name: str
    make_net: Callable[[], nn.Module]
    batch: int
    steps_cpu: int
    steps_cuda: int
    bf16_on_cuda: bool = False
    log_every_n_steps: int | None = None  # None: the trainers' default (50)
    save_hparams: bool = False


def autoencoder() -> nn.Module:
    """The seed tutorial's encoder + decoder."""
    return nn.Sequential(
        nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 3),
        nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 784),
    )  # fmt: skip


def wide_mlp(width: int, depth: int) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        layers: list[nn.Module] = [nn.Linear(784, width), nn.GELU()]
        for _ in range(depth - 2):
            layers += [nn.Linear(width, width), nn.GELU()]
        return nn.Sequential(*layers, nn.Linear(width, 784))

    return make


def scenarios(device: str) -> list[Scenario]:
    # The anchor's 4096x6 bf16 MLP is GPU-sized; on CPU a 1024x4 one is compute-bound enough.
    mlp = (
        Scenario("wide-MLP 4096x6 b512 bf16", wide_mlp(4096, 6), 512, 0, 400, bf16_on_cuda=True)
        if device == "cuda"
        else Scenario("wide-MLP 1024x4 b64", wide_mlp(1024, 4), 64, 40, 0)
    )
    return [
        Scenario("seed-AE b32", autoencoder, 32, 500, 3000),
        Scenario(
            "seed-AE b32 log every step",
            autoencoder,
            32,
            500,
            3000,
            log_every_n_steps=1,
            save_hparams=True,
        ),
        Scenario("seed-AE b256", autoencoder, 256, 200, 1500),
        mlp,
    ]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# ---- the contenders --------------------------------------------------------------------------


def raw_loop(
    make_net: Callable, loader: DataLoader, steps: int, device: str, bf16: bool, scn: Scenario
) -> float:
    torch.manual_seed(0)
    net = make_net().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    done = 0
    sync(device)
    start = time.perf_counter()
    while done < steps:
        for (x,) in loader:
            x = x.to(device, non_blocking=True)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                loss = nn.functional.mse_loss(net(x), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done >= steps:
                break
    sync(device)
    return time.perf_counter() - start


def lit_module(L: ModuleType, net: nn.Module, save_hparams: bool) -> Any:
    class Lit(L.LightningModule):
        def __init__(self, lr: float = 1e-3) -> None:
            super().__init__()
            if save_hparams:
                self.save_hyperparameters()
            self.net = net

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            (x,) = batch
            loss = nn.functional.mse_loss(self.net(x), x)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    return Lit()


def csv_logger(L: ModuleType, root: str) -> Any:
    prefix = "lightning.pytorch" if L.__name__ == "lightning" else L.__name__
    return importlib.import_module(f"{prefix}.loggers").CSVLogger(save_dir=root)


def trainer_fit(
    L: ModuleType,
    make_net: Callable,
    loader: DataLoader,
    steps: int,
    device: str,
    bf16: bool,
    scn: Scenario,
) -> float:
    torch.manual_seed(0)
    root = tempfile.mkdtemp(prefix=f"bench-{L.__name__}-")
    try:
        model = lit_module(L, make_net(), scn.save_hparams)
        every = (
            {} if scn.log_every_n_steps is None else {"log_every_n_steps": scn.log_every_n_steps}
        )
        trainer = L.Trainer(
            accelerator="cuda" if device == "cuda" else "cpu", devices=1, max_steps=steps,
            precision="bf16-mixed" if bf16 else "32-true", default_root_dir=root,
            logger=csv_logger(L, root), enable_progress_bar=False, enable_model_summary=False,
            **every,
        )  # fmt: skip
        sync(device)
        start = time.perf_counter()
        trainer.fit(model, train_dataloaders=loader)
        sync(device)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)


def contenders() -> tuple[dict[str, Callable], dict[str, str]]:
    """name -> runner; plus name -> why it is missing (import errors are reported, not fatal)."""
    runs: dict[str, Callable] = {"raw": raw_loop}
    missing: dict[str, str] = {}
    for name in ("trainer_core", "lightning"):
        try:
            L = importlib.import_module(name)
            L.Trainer  # noqa: B018  (an incomplete package fails here, not mid-measurement)
        except Exception as exc:  # noqa: BLE001
            missing[name] = f"{type(exc).__name__}: {exc}"
            continue
        runs[name] = lambda *a, _L=L: trainer_fit(_L, *a)
    return runs, missing


# ---- measuring and reporting -----------------------------------------------------------------


def measure(scn: Scenario, device: str, steps: int, repeats: int, runs: dict) -> dict[str, Any]:
    bf16 = scn.bf16_on_cuda and device == "cuda"
    data = torch.rand(DATA_ROWS, 784, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(
        TensorDataset(data), batch_size=scn.batch, shuffle=True, drop_last=True,
        pin_memory=device == "cuda",
    )  # fmt: skip
    names = list(runs)
    for name in names:  # warm-up: allocator, kernels, first-call imports
        runs[name](scn.make_net, loader, max(5, steps // 20), device, bf16, scn)
    samples: dict[str, list[float]] = {n: [] for n in names}
    errors: dict[str, str] = {}
    for rep in range(repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            if name in errors:
                continue
            gc.collect()
            try:
                samples[name].append(runs[name](scn.make_net, loader, steps, device, bf16, scn))
            except Exception as exc:  # noqa: BLE001
                errors[name] = f"{type(exc).__name__}: {exc}"
    return summarize(scn.name, steps, samples, errors)


def summarize(name: str, steps: int, samples: dict, errors: dict) -> dict[str, Any]:
    row: dict[str, Any] = {"scenario": name, "steps": steps, "samples_s": samples, "errors": errors}
    medians = {n: statistics.median(s) for n, s in samples.items() if s}
    raw = medians.get("raw")
    for n, med in medians.items():
        row[f"us_per_step_{n}"] = round(med / steps * 1e6, 1)
        if raw and n != "raw":
            row[f"ratio_{n}_over_raw"] = round(med / raw, 3)
    return row


def machine(device: str) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    meta = {
        "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "device": device,
    }  # fmt: skip
    if device == "cuda":
        meta["gpu"] = torch.cuda.get_device_name()
    for pkg in ("trainer_core", "lightning"):
        module = sys.modules.get(pkg)
        meta[pkg] = getattr(module, "__version__", "present") if module else "absent"
    return meta


def print_table(meta: dict[str, Any], rows: list[dict[str, Any]], names: list[str]) -> None:
    print(
        f"machine: {meta['cpu']}, {meta['cores']} cores ({meta['torch_threads']} torch threads), "
        f"torch {meta['torch']}, device {meta.get('gpu', meta['device'])}, "
        f"median of {meta['repeats']} interleaved runs"
    )
    head = f"{'scenario':<28}{'steps':>6}" + "".join(f"{n + ' us/step':>22}" for n in names)
    print(head)
    print("-" * len(head))
    for row in rows:
        cells = []
        for n in names:
            us = row.get(f"us_per_step_{n}")
            ratio = row.get(f"ratio_{n}_over_raw")
            text = "error" if n in row["errors"] else f"{us:.1f}" if us is not None else "-"
            cells.append(f"{text}{f' ({ratio:.2f}x)' if ratio else '':>9}")
        print(f"{row['scenario']:<28}{row['steps']:>6}" + "".join(f"{c:>22}" for c in cells))
    for row in rows:
        for n, err in row["errors"].items():
            print(f"  {row['scenario']}: {n} failed: {err}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--steps", type=int, help="steps per timed run (default: per scenario)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per contender")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--only", nargs="*", help="scenario name prefixes to run")
    parser.add_argument(
        "--threads", type=int,
        help="torch intra-op threads (default on CPU: 1, because on a small shared machine "
        "multi-threaded kernels of tiny layers spin and swamp the overhead being measured)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    if args.threads or device == "cpu":
        torch.set_num_threads(args.threads or 1)
    warnings.filterwarnings("ignore")  # both trainers warn about num_workers; not our subject
    runs, missing = contenders()
    rows = []
    for scn in scenarios(device):
        if args.only and not any(scn.name.startswith(p) for p in args.only):
            continue
        steps = args.steps or (scn.steps_cuda if device == "cuda" else scn.steps_cpu)
        rows.append(measure(scn, device, steps, args.repeats, runs))
    meta = machine(device) | {"repeats": args.repeats, "missing": missing}
    print_table(meta, rows, list(runs))
    for name, why in missing.items():
        print(f"  {name} not measured: {why}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
