"""The `trainyard` client commands, run as a subprocess against a real server and worker."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import Cli, ok


def test_submit_watch_shows_progress_until_the_job_succeeds(submitted: dict[str, Any]) -> None:
    out = submitted["stdout"]
    assert "(autoencoder-digits): autoencoder on digits" in out.splitlines()[1]
    assert "status: running" in out
    assert re.search(
        r"checkpoint saved: epoch 0, step \d+, val_loss=[\d.]+ \(id [0-9a-f]{32}\)", out
    )
    final = [line for line in out.splitlines() if line.startswith("succeeded")][-1]
    step, total = map(int, re.search(r"step (\d+)/(\d+)", final).groups())  # type: ignore[union-attr]
    assert step == total > 0 and "val_loss=" in final
    assert f"job {submitted['id']} succeeded" in out
    assert f"trainyard download {submitted['id']}" in out


def test_jobs_status_logs_and_components(cli: Cli, submitted: dict[str, Any]) -> None:
    job_id = submitted["id"]
    listed = ok(cli("jobs"))
    assert re.search(rf"{job_id}\s+autoencoder-digits\s+succeeded", listed)
    status = ok(cli("status", job_id))
    assert "status    succeeded" in status and "metric    val_loss = " in status
    assert [h.split()[-1] for h in status.splitlines() if h.startswith("history")] == [
        "queued", "running", "succeeded",
    ]  # fmt: skip
    as_json = json.loads(ok(cli("status", job_id, "--json")))
    assert as_json["id"] == job_id and as_json["status"] == "succeeded"
    assert "autoencoder" in ok(cli("components"))
    logs = cli("logs", job_id, "-f")  # a finished job: prints its lines, then ends
    assert logs.returncode == 0, logs.stderr


def test_predict_from_a_json_file(cli: Cli, submitted: dict[str, Any], tmp_path: Path) -> None:
    sample = [[0.0] * 64, [0.5] * 64]
    (tmp_path / "in.json").write_text(json.dumps({"inputs": sample}))
    answer = json.loads(ok(cli("predict", submitted["id"], "--input", "in.json", "--json")))
    outputs = answer["outputs"]
    assert len(outputs) == 2 and len(outputs[0]) == 64 and len(answer["checkpoint_id"]) == 32
    rows = ok(cli("predict", submitted["id"], "--input", "in.json")).splitlines()
    assert len(rows) == 2  # a row per sample, not a line per number
    for index, (row, expected) in enumerate(zip(rows, outputs, strict=True)):
        label, values = row.split("\t")
        assert int(label) == index
        assert [float(v) for v in values.split()] == pytest.approx(expected, rel=1e-3, abs=1e-4)


def checkpoint_of(cli: Cli, job_id: str) -> dict[str, Any]:
    job = json.loads(ok(cli("status", job_id, "--json")))
    return job["best_checkpoint"]


def test_download_resumes_a_partial_file_and_verifies_it(
    cli: Cli, submitted: dict[str, Any], tmp_path: Path
) -> None:
    job_id = submitted["id"]
    best = checkpoint_of(cli, job_id)
    whole = ok(cli("download", job_id, "-o", "whole.ckpt"))
    data = (tmp_path / "whole.ckpt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == best["sha256"] and best["sha256"] in whole

    cut = len(data) // 3
    (tmp_path / "resumed.ckpt.part").write_bytes(data[:cut])  # an interrupted transfer
    out = ok(cli("download", job_id, "--checkpoint", best["id"], "-o", "resumed.ckpt"))
    assert f"resuming resumed.ckpt.part from byte {cut} of {len(data)}" in out
    assert (tmp_path / "resumed.ckpt").read_bytes() == data
    assert not (tmp_path / "resumed.ckpt.part").exists()


def test_download_reports_a_sha256_mismatch(
    cli: Cli, submitted: dict[str, Any], tmp_path: Path
) -> None:
    job_id = submitted["id"]
    best = checkpoint_of(cli, job_id)
    (tmp_path / "bad.ckpt.part").write_bytes(b"\0" * 100)  # garbage from an earlier transfer
    result = cli("download", job_id, "-o", "bad.ckpt")
    assert result.returncode == 1
    assert f"sha256 mismatch for bad.ckpt: expected {best['sha256']}" in result.stderr
    assert not (tmp_path / "bad.ckpt").exists() and not (tmp_path / "bad.ckpt.part").exists()
    ok(cli("download", job_id, "-o", "bad.ckpt"))  # run again: fetched whole, verified


def test_errors_print_the_error_code_and_exit_nonzero(
    cli: Cli, submitted: dict[str, Any], tmp_path: Path
) -> None:
    cancelled = cli("cancel", submitted["id"])  # it succeeded: too late to cancel
    assert cancelled.returncode == 1
    assert "error: job_not_cancellable (HTTP 409): " in cancelled.stderr
    missing = cli("status", "0" * 32)
    assert (missing.returncode, missing.stderr.split(":")[1].strip()) == (
        1,
        "job_not_found (HTTP 404)",
    )
    unauthorised = cli("jobs", token="ty_wrong")
    assert unauthorised.returncode == 1 and "unauthorized (HTTP 401)" in unauthorised.stderr
    no_token = cli("jobs", token="")
    assert no_token.returncode == 2 and "TRAINYARD_TOKEN" in no_token.stderr

    (tmp_path / "bad.yaml").write_text("module: {name: nope}\ndatamodule: {name: digits}\n")
    bad = cli("submit", "bad.yaml")
    assert bad.returncode == 1 and "unknown_component (HTTP 422)" in bad.stderr
    assert "module.name" in bad.stderr or "nope" in bad.stderr
    unreachable = cli("jobs", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "cannot reach the Trainyard server" in unreachable.stderr


def test_a_jobs_output_lines_reach_logs_and_the_live_view(cli: Cli, tmp_path: Path) -> None:
    from tests.service_doubles import tiny_spec

    spec = tiny_spec(module_params={"say": "hello from inside the job"}, max_epochs=1)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    watched = ok(cli("submit", "spec.json", "--watch", "--logs"))
    assert "[stdout] hello from inside the job" in watched  # live, from the event stream
    job_id = watched.split("submitted job ", 1)[1].split()[0]
    stored = ok(cli("logs", job_id))
    assert "hello from inside the job" in stored.splitlines()
    assert any("logged: hello from inside the job" in line for line in stored.splitlines())
