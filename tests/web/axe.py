"""axe-core for the accessibility audit: fetched once from the npm registry, checked, cached.

`.ci/install` runs `python -m tests.web.axe`; a test run on a machine without it fetches it the
same way. The tarball's sha512 (the registry's `dist.integrity`) is pinned: a changed file fails.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import sys
import tarfile
import urllib.request
from pathlib import Path

logger = logging.getLogger(__name__)

AXE_VERSION = "4.10.3"
AXE_TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz"
AXE_INTEGRITY = (
    "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=="
)
ROOT = Path(__file__).resolve().parents[2]
# Kept inside the virtual environment (ignored by git, made by .ci/install).
AXE_JS = ROOT / ".venv" / "share" / "axe-core" / f"axe-{AXE_VERSION}.min.js"


def fetch_axe(target: Path = AXE_JS) -> Path:
    """axe.min.js of the pinned version at target, downloaded and verified if it is not there yet."""
    if target.is_file():
        return target
    logger.info("fetching %s", AXE_TARBALL)
    with urllib.request.urlopen(AXE_TARBALL, timeout=120) as r:
        data = r.read()
    algo, _, want = AXE_INTEGRITY.partition("-")
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode("ascii")
    if got != want:
        raise RuntimeError(f"axe-core {AXE_VERSION}: the tarball's {algo} is {got}, expected {want}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile("package/axe.min.js")
        if member is None:
            raise RuntimeError(f"axe-core {AXE_VERSION}: no package/axe.min.js in the tarball")
        script = member.read()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(script)
    tmp.replace(target)
    return target


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(fetch_axe())
    sys.exit(0)
