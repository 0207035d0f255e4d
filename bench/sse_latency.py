"""self.log -> SSE client latency on PostgreSQL + Redis, and what the service costs the loop.

A real worker (`trainyard worker`) trains bench/latency_probe.py's MLP, which logs `sent_at`
(the wall-clock time of its self.log call) every step; a client in this process follows
`/v1/jobs/{id}/events` on the real API and computes arrival - sent_at for every point:
p50/p95 over the run. The same spec then runs with the service callbacks off (a plain
trainer_core fit with the same module, data, options and ModelCheckpoint, in a fresh process
with the same environment); both report their training loop's duration. Runs alternate
(baseline, service, baseline, service, ...) and the medians are compared.

    .venv/bin/python bench/sse_latency.py                 # ~2 minutes, log_every_n_steps=50
    .venv/bin/python bench/sse_latency.py --log-every 1   # every step: the stress case
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import REPO, Stack, percentile, print_table, stack  # noqa: E402

PROBE = "bench.latency_probe"


def job_spec(steps: int, log_every: int, batch: int) -> dict[str, Any]:
    return {
        "name": "sse-latency-bench",
        "module": {"name": "latency_probe", "params": {"t0": 0.0}},
        "datamodule": {
            "name": "synthetic",
            "params": {
                "shape": [256],
                "train_size": steps * batch,
                "val_size": batch,
                "test_size": 0,
                "batch_size": batch,
            },
        },  # fmt: skip
        "trainer": {"max_epochs": 1, "log_every_n_steps": log_every, "limit_val_batches": 1},
        "checkpoint": {"save_top_k": 1, "save_last": False},
        "seed": 0,
    }


def baseline(raw: dict[str, Any]) -> None:
    """Child process: the same fit with the service callbacks (and database logger) off."""
    from api.settings import Settings
    from trainyard.schemas.jobs import JobSpec
    from worker.build import build_components, make_model_checkpoint, make_trainer

    settings = Settings(component_modules=[PROBE])
    spec = JobSpec.model_validate(raw, strict=False)
    module, datamodule = build_components(spec, settings)
    with tempfile.TemporaryDirectory() as root:
        checkpoint = make_model_checkpoint(spec, Path(root) / "checkpoints")
        trainer = make_trainer(spec, root_dir=Path(root), callbacks=[checkpoint], logger=False)
        trainer.fit(module, datamodule=datamodule)


def run_baseline(s: Stack, spec: dict[str, Any]) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--baseline-spec", json.dumps(spec)],
        env=s.extra["env"], cwd=REPO, capture_output=True, text=True, timeout=600, check=True,
    ).stdout  # fmt: skip
    return float(out.split("LOOP_SECONDS=")[1].split()[0])


def follow(s: Stack, job_id: str, t0: float, lags: list[float]) -> None:
    from trainyard import Client

    with Client(s.api.url, s.token) as client:
        for event in client.stream_events(job_id, types=["metric"]):
            if event.type == "metric" and event.data.get("name") == "sent_at":
                lags.append((time.time() - (t0 + event.data["value"])) * 1000)


def run_service(s: Stack, spec: dict[str, Any]) -> tuple[float, list[float], str]:
    from trainyard import Client

    t0 = time.time()
    spec = {**spec, "module": {"name": "latency_probe", "params": {"t0": t0}}}
    lags: list[float] = []
    with Client(s.api.url, s.token) as client:
        job = client.submit(spec)
        listener = threading.Thread(target=follow, args=(s, job.id, t0, lags))
        listener.start()
        listener.join(timeout=900)
        status = client.job(job.id).status
        lines = [line.line for line in client.iter_logs(job.id)]
    loop = [float(line.split("=")[1]) for line in lines if line.startswith("LOOP_SECONDS=")]
    return (loop[0] if loop else float("nan")), lags, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument(
        "--log-every",
        type=int,
        default=50,
        help="log_every_n_steps (50: Lightning's default; 1: every step, the stress case)",
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline-spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_spec:
        baseline(json.loads(args.baseline_spec))
        return
    spec = job_spec(args.steps, args.log_every, args.batch)
    plain, served, lags = [], [], []
    with stack(worker=True, component_modules=[PROBE]) as s:
        for _ in range(args.repeats):
            plain.append(run_baseline(s, spec))
            loop, run_lags, status = run_service(s, spec)
            assert status == "succeeded", f"the service run ended {status}"
            served.append(loop)
            lags += run_lags
    base, svc = statistics.median(plain), statistics.median(served)
    print_table(
        f"self.log -> SSE client, PostgreSQL + Redis ({args.steps} steps x {args.repeats} runs, "
        f"log_every_n_steps={args.log_every})",
        [
            ("points received", f"{len(lags):,}"),
            ("latency p50", f"{percentile(lags, 50):.0f} ms"),
            ("latency p95", f"{percentile(lags, 95):.0f} ms"),
            ("latency max", f"{max(lags):.0f} ms"),
            ("loop, service callbacks off", f"{base:.2f} s (median of {plain})"),
            ("loop, service on", f"{svc:.2f} s (median of {served})"),
            ("slowdown", f"{100 * (svc - base) / base:+.1f}%"),
        ],
    )


if __name__ == "__main__":
    main()
