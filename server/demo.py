"""`make run`: the whole service on one machine, then a real job through it.

Migrates the database (SQLite in TRAINYARD_HOME, `var/` of the checkout by default, unless
DATABASE_URL says otherwise), starts the API and one worker as subprocesses (logs in
TRAINYARD_HOME/logs), creates a token, trains the autoencoder on the digits over HTTP while
showing its progress, prints the checkpoint's download URL and one prediction, and keeps serving
until Ctrl-C, which stops both processes.

It supervises what it started: a worker or API that dies is started again (a job the worker was
running is requeued once its heartbeat is HEARTBEAT_TIMEOUT_S old and resumes from its last
checkpoint), and the API comes back on the same port, as does a `make run` started again at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from api.db.migrate import upgrade
from api.db.session import session_scope
from api.db.tokens import create_token
from api.settings import Settings
from server.preflight import redact

TERMINAL = {"succeeded", "failed", "cancelled"}
DEMO_JOB: dict[str, Any] = {
    "name": "demo-autoencoder",
    "module": {
        "name": "autoencoder",
        "params": {"input_dim": 64, "hidden_dim": 64, "latent_dim": 8},
    },
    "datamodule": {"name": "digits", "params": {"batch_size": 64}},
    "trainer": {"max_epochs": 5, "log_every_n_steps": 5},
    "checkpoint": {"monitor": "val_loss", "mode": "min", "save_top_k": 1},
    "test_after_fit": True,
    "seed": 42,
    "tags": ["demo"],
}
# A process that dies this often within RESTART_WINDOW_S is not started again.
MAX_RESTARTS, RESTART_WINDOW_S = 5, 60.0


def demo_environment() -> dict[str, str]:
    """The embedded defaults in TRAINYARD_HOME, unless the environment names real services."""
    env = dict(os.environ)
    env.setdefault("TRAINYARD_HOME", str(Settings().trainyard_home))
    env.setdefault("BROKER_URL", "filesystem://")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # One machine, one worker: a dead worker's job is declared lost after 10 s, not a minute.
    env.setdefault("HEARTBEAT_INTERVAL_S", "2")
    env.setdefault("HEARTBEAT_TIMEOUT_S", "10")
    # API, worker and this client share the machine; for a model this small, torch's
    # intra-op threads only contend with them (a 10x slowdown seen on 2 busy cores).
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def pick_port(preferred: int) -> int:
    """`preferred` unless another process listens on it. SO_REUSEADDR, as uvicorn binds: the
    connections of an API that just stopped (TIME_WAIT) do not keep the port from it."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
            print(f"Port {preferred} is in use by another program; using a free one instead.")
        return int(sock.getsockname()[1])


class Services:
    """The API and worker subprocesses: started, watched (`supervise` restarts one that died)
    and stopped (`stop`, gently first)."""

    COMMANDS = {"api": ["serve", "--host", "127.0.0.1"], "worker": ["worker"]}

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.url = f"http://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = Path(env["TRAINYARD_HOME"]) / "logs"
        self.log_start: dict[str, int] = {}  # where this run's output starts in each log
        self.restarts: dict[str, list[float]] = {"api": [], "worker": []}

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for name in self.COMMANDS:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        args = [*self.COMMANDS[name], *(["--port", str(self.port)] if name == "api" else [])]
        path = self.logs / f"{name}.log"
        self.log_start[name] = path.stat().st_size if path.exists() else 0
        with open(path, "ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "trainyard", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; we stop them in order
            )

    def log_text(self, name: str) -> str:
        with open(self.logs / f"{name}.log", "rb") as log:
            log.seek(self.log_start.get(name, 0))
            return log.read().decode(errors="replace")

    def supervise(self) -> None:
        """Start again whatever died; give up (SystemExit) on one that keeps dying."""
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            now = time.monotonic()
            recent = [t for t in self.restarts[name] if now - t < RESTART_WINDOW_S]
            if len(recent) >= MAX_RESTARTS:
                raise SystemExit(
                    f"the {name} keeps exiting ({code}); see {self.logs / name}.log\n"
                    f"{self.log_text(name)[-2000:]}"
                )
            self.restarts[name] = [*recent, now]
            self._spawn(name)
            print(f"\nThe {name} exited ({_how(code)}); started it again (pid {self.pid(name)}).")
            if name == "worker":
                print(
                    f"  A job it was running goes back to the queue once its heartbeat is "
                    f"{self.env['HEARTBEAT_TIMEOUT_S']} s old, and resumes from its last "
                    "checkpoint on the new worker."
                )

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:  # at start: a setting or the port is wrong
                    raise SystemExit(
                        f"the {name} exited ({_how(proc.returncode)}):\n{self.log_text(name)}"
                    )
            if " ready." in self.log_text("worker") and self._healthy():
                return
            time.sleep(0.3)
        raise SystemExit(f"the services did not start within {timeout:.0f}s; see {self.logs}/")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 15 s; killing it")
                proc.kill()
                proc.wait()


def _how(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit status {code}"


def make_token(database_url: str) -> str:
    with session_scope(database_url) as session:
        return create_token(session, "demo", name="make-run").plaintext


def progress_line(job: dict[str, Any]) -> str:
    p = job.get("progress") or {}
    step, total = p.get("step"), p.get("total")
    metrics = " ".join(
        f"{k}={v:.4f}"
        for k, v in sorted((job.get("latest_metrics") or {}).items())
        if isinstance(v, (int, float))
    )
    eta = f" eta {p['eta_s']:.0f}s" if p.get("eta_s") is not None else ""
    epoch = "-" if p.get("epoch") is None else p["epoch"]
    return f"  {job['status']:<10} epoch {epoch} step {step or 0}/{total or '?'}{eta} {metrics}"


def watch(client: httpx.Client, job_id: str, services: Services) -> dict[str, Any]:
    """Poll the job and redraw one progress line until it ends (restarting what dies)."""
    while True:
        services.supervise()
        try:
            job = client.get(f"/v1/jobs/{job_id}").raise_for_status().json()
        except httpx.TransportError:  # the API is being started again
            time.sleep(0.5)
            continue
        print("\r" + progress_line(job)[:150].ljust(150), end="", flush=True)
        if job["status"] in TERMINAL:
            print()
            return job
        time.sleep(0.5)


def one_digit() -> list[float]:
    """A real sample, scaled as the digits datamodule scales it."""
    from sklearn.datasets import load_digits

    return [float(v) / 16.0 for v in load_digits().data[0]]


def run_demo(services: Services, token: str) -> None:
    client = httpx.Client(
        base_url=services.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    job = client.post("/v1/jobs", json=DEMO_JOB).raise_for_status().json()
    print(f"\nSubmitted job {job['id']} (autoencoder on the digits):")
    job = watch(client, job["id"], services)
    if job["status"] != "succeeded":
        print(f"The job ended {job['status']}: {job.get('error')}")
        return
    best = job.get("best_checkpoint") or {}
    print(f"\nBest checkpoint (val_loss={best.get('monitor_value')}), download with:")
    print(f"  curl -H 'Authorization: Bearer {token}' -o best.ckpt \\")
    print(f"       {services.url}/v1/checkpoints/{best.get('id')}/download")
    sample = one_digit()
    answer = (
        client.post(
            f"/v1/jobs/{job['id']}/predict", json={"inputs": [sample], "checkpoint": "best"}
        )
        .raise_for_status()
        .json()
    )
    reconstruction = answer["outputs"][0]
    error = sum((a - b) ** 2 for a, b in zip(sample, reconstruction, strict=True)) / len(sample)
    print("\nOne prediction (a handwritten 0, reconstructed through the 8-number encoding):")
    print(f"  first pixels in : {[round(v, 2) for v in sample[:8]]}")
    print(f"  first pixels out: {[round(v, 2) for v in reconstruction[:8]]}")
    print(f"  mean squared error: {error:.4f}")


def print_usage(url: str, token: str, services: Services) -> None:
    auth = f"-H 'Authorization: Bearer {token}'"
    sample = services.logs.parent / "digit.json"  # one real input, for the predict line
    sample.write_text(json.dumps({"inputs": [one_digit()]}))
    print(f"""
Trainyard is running at {url}  (OpenAPI docs: {url}/docs)
Token (project "demo"): {token}
Dashboard: {url}/ui/  (log in by pasting the token above)

  # the CLI reads these (in another terminal: source .venv/bin/activate)
  export TRAINYARD_URL={url} TRAINYARD_TOKEN={token}
  trainyard submit examples/autoencoder.yaml --watch

  curl {auth} {url}/v1/components
  curl {auth} -H 'Content-Type: application/json' {url}/v1/jobs \\
       -d '{{"module": {{"name": "autoencoder"}}, "datamodule": {{"name": "digits"}}, "trainer": {{"max_epochs": 3}}}}'
  curl {auth} {url}/v1/jobs
  curl {auth} {url}/v1/jobs/<id>
  curl {auth} {url}/v1/jobs/<id>/metrics?name=val_loss
  curl {auth} -X POST {url}/v1/jobs/<id>/cancel
  curl {auth} -H 'Content-Type: application/json' {url}/v1/jobs/<id>/predict -d @{sample}

Logs: {services.logs}/api.log, {services.logs}/worker.log. Press Ctrl-C to stop.""")


def main() -> int:
    env = demo_environment()
    os.environ.update(env)  # one set of settings for this process and the ones it starts
    database_url = Settings().database_url
    print(f"Database: {redact(database_url)}\nBroker:   {redact(env['BROKER_URL'])}")
    upgrade(database_url)
    services = Services(env, pick_port(int(env.get("TRAINYARD_PORT", "8000"))))
    try:
        services.start()
        print(f"Starting the API (pid {services.pid('api')}) and a worker (pid "
              f"{services.pid('worker')})...")  # fmt: skip
        services.wait_ready()
        token = make_token(database_url)
        print_usage(services.url, token, services)
        run_demo(services, token)
        print(f"\nStill serving at {services.url}. Ctrl-C to stop.")
        while True:
            services.supervise()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping...")
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
