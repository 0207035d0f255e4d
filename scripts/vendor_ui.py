"""Refresh the dashboard's vendored files from the npm registry (`make vendor`).

    python scripts/vendor_ui.py [VERSION]

Downloads `uplot@VERSION` with `npm pack` (the registry's own client, which checks the tarball's
integrity), copies the browser build and its stylesheet into api/ui/static/vendor/, and records
the version, the tarball's integrity string and each file's sha256 in VENDOR.json. Nothing is
fetched at run time: the server serves these files itself.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "uplot"
DEFAULT_VERSION = "1.6.32"
FILES = {  # path inside the npm tarball -> name under api/ui/static/vendor/
    "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "uPlot.LICENSE",
}
VENDOR_DIR = Path(__file__).resolve().parents[1] / "api" / "ui" / "static" / "vendor"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pack(version: str, into: Path) -> tuple[Path, dict[str, str]]:
    """`npm pack` the package into `into`; return the tarball and npm's metadata of it."""
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{version}", "--json", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)[0]
    return into / info["filename"], {"integrity": info["integrity"], "shasum": info["shasum"]}


def main(version: str = DEFAULT_VERSION) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tarball, npm_info = pack(version, Path(tmp))
        with tarfile.open(tarball) as archive:
            for member, name in FILES.items():
                source = archive.extractfile(member)
                if source is None:
                    raise SystemExit(f"{member} is missing from {tarball.name}")
                with (VENDOR_DIR / name).open("wb") as target:
                    shutil.copyfileobj(source, target)
    record = {
        "package": PACKAGE,
        "version": version,
        "source": f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{version}.tgz",
        "tarball": npm_info,
        "files": {name: sha256(VENDOR_DIR / name) for name in FILES.values()},
    }
    (VENDOR_DIR / "VENDOR.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"vendored {PACKAGE} {version} into {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
