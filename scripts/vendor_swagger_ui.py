"""Refresh the Swagger UI files that /docs serves (api/static/swagger-ui/) from the npm registry.

    python scripts/vendor_swagger_ui.py [VERSION]

Downloads `swagger-ui-dist@VERSION` with `npm pack` (the registry's own client, which checks the
tarball's integrity), copies the bundle, its stylesheet, favicon and licence, and records the
version, the tarball's integrity string and each file's sha256 in VENDOR.json (a test checks the
files against it). Nothing is fetched at run time, so /docs works offline.
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

PACKAGE = "swagger-ui-dist"
DEFAULT_VERSION = "5.35.0"
FILES = {  # path inside the npm tarball -> name under api/static/swagger-ui/
    "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
    "package/swagger-ui.css": "swagger-ui.css",
    "package/favicon-32x32.png": "favicon-32x32.png",
    "package/LICENSE": "LICENSE",
}
VENDOR_DIR = Path(__file__).resolve().parents[1] / "api" / "static" / "swagger-ui"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pack(version: str, into: Path) -> tuple[Path, dict[str, str]]:
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{version}", "--json", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)[0]
    return into / info["filename"], {"integrity": info["integrity"], "shasum": info["shasum"]}


def main(version: str = DEFAULT_VERSION) -> int:
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
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
