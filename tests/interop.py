"""Load checkpoints in a separate Python process that has torch and Lightning but no Trainyard.

`load_in_lightning_only(entries, tmp_path)` starts `python -I -S` (no site-packages, no
PYTHONPATH, no current folder) and puts on its sys.path a folder of links to this environment's
installed distributions minus Trainyard's own editable install, plus a folder holding only
tests/lightning_twins.py. The child first proves that none of trainer_core, catalog, api,
worker, trainyard, server or tests can be imported; then, for each file, it runs
`torch.load(weights_only=True)` and Lightning's `load_from_checkpoint(weights_only=True)` of the
twin module (and of a LightningDataModule when the file has datamodule hyperparameters), and
reports what it read as JSON.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TWINS = Path(__file__).with_name("lightning_twins.py")
PROJECT_PACKAGES = ("trainer_core", "catalog", "api", "worker", "trainyard", "server", "tests")


@dataclass(frozen=True)
class Entry:
    """One checkpoint file and the registered module name whose twin should load it."""

    path: Path
    module: str


def _is_trainyard_install(name: str) -> bool:
    return (
        name.startswith(("__editable__", "trainyard-", "__pycache__"))
        or name.endswith(".pth")
        or name in PROJECT_PACKAGES
    )


def lightning_only_site(folder: Path) -> Path:
    """A folder of links to every installed distribution except Trainyard itself."""
    site = folder / "site"
    site.mkdir(parents=True)
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not _is_trainyard_install(entry.name):
            (site / entry.name).symlink_to(entry)
    twins = folder / "twins"
    twins.mkdir()
    shutil.copy(TWINS, twins / TWINS.name)
    return site


CHILD = r"""
import importlib.util, json, sys
site, twins, manifest = sys.argv[1:4]
sys.path[:0] = [site, twins]
leaks = [name for name in PROJECT_PACKAGES if importlib.util.find_spec(name) is not None]
try:
    import trainer_core  # noqa: F401
except ImportError:
    pass
else:
    leaks.append("trainer_core (imported)")

import torch
import lightning as L
from lightning_twins import MODULES, DataModuleTwin

def read(path, module):
    raw = torch.load(path, map_location="cpu", weights_only=True)
    model = MODULES[module].load_from_checkpoint(path, map_location="cpu", weights_only=True)
    mine = model.state_dict()  # float32 whatever the file's precision: compare in its dtype
    same = set(mine) == set(raw["state_dict"]) and all(
        torch.allclose(mine[k], v.to(mine[k].dtype), rtol=0, atol=0, equal_nan=True)
        for k, v in raw["state_dict"].items()
    )
    out = {
        "keys": sorted(raw),
        "weights_equal": same,
        "hparams": dict(model.hparams),
        "callbacks": sorted(raw.get("callbacks", {})),
        "epoch": raw["epoch"],
        "global_step": raw["global_step"],
    }
    if "datamodule_hyper_parameters" in raw:
        dm = DataModuleTwin.load_from_checkpoint(path, map_location="cpu", weights_only=True)
        out["datamodule_hparams"] = dict(dm.hparams)
    return out

results = {}
for item in json.load(open(manifest)):
    try:
        results[item["path"]] = read(item["path"], item["module"])
    except Exception as exc:
        results[item["path"]] = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
print(json.dumps({"leaks": leaks, "sys_path": sys.path, "lightning": L.__version__,
                  "results": results}, default=str))
"""


def load_in_lightning_only(entries: list[Entry], folder: Path) -> dict[str, Any]:
    """Run the child over `entries`; its report (`leaks`, `results` by path, `sys_path`)."""
    site = lightning_only_site(folder)
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps([{"path": str(e.path), "module": e.module} for e in entries]))
    code = f"PROJECT_PACKAGES = {PROJECT_PACKAGES!r}\n{CHILD}"
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            code,
            str(site),
            str(site.parent / "twins"),
            str(manifest),
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    repository = str(Path(__file__).resolve().parents[1])
    assert not [p for p in report["sys_path"] if p.startswith(repository)], report["sys_path"]
    return report
