"""OSRM's own programs, taken from the ``osrm-bindings`` wheel on PyPI.

The wheel's in-process module needs Python 3.12, but its command-line programs (osrm-extract,
-contract, -routed) are self-contained Linux binaries that run anywhere its
manylinux tag allows. fieldsense downloads the pinned wheel once (verified by its SHA-256),
unpacks the programs and the Lua profiles into ``.venv/osrm-<version>/`` and runs them from
there. Nothing is compiled; nothing else is installed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from backend.config import ROOT

OSRM_VERSION = "26.10.0"
WHEELS = {
    "x86_64": (
        "osrm_bindings-26.10.0-cp312-abi3-manylinux_2_28_x86_64.whl",
        "840d6f82812eb9f9e17c71eb9083dfa15f3be2bfec4965c32aefa48b00d3a951",
    ),
    "aarch64": (
        "osrm_bindings-26.10.0-cp312-abi3-manylinux_2_28_aarch64.whl",
        "df2d386949756b3de034662d2abb378ff1d60ee9b0d5e33c0da4080dc29164a4",
    ),
}
PROGRAMS = ("osrm-extract", "osrm-contract", "osrm-routed")


class EngineMissing(RuntimeError):
    """OSRM's programs are not installed and could not be."""


def home() -> Path:
    """Where the programs live: FIELDSENSE_OSRM_HOME, else beside the virtual environment."""
    if value := os.environ.get("FIELDSENSE_OSRM_HOME"):
        return Path(value)
    return ROOT / ".venv" / f"osrm-{OSRM_VERSION}"


def program(name: str) -> Path:
    path = home() / "bin" / name
    if not os.access(path, os.X_OK):
        raise EngineMissing(f"{path} is missing: run `fieldsense roads install`")
    return path


def profile_path(profile: str) -> Path:
    return home() / "profiles" / f"{profile}.lua"


def installed() -> bool:
    return all(os.access(home() / "bin" / name, os.X_OK) for name in PROGRAMS)


def install(say: object = None) -> Path:
    """Download the pinned wheel from PyPI (pip, hash-checked) and unpack the programs."""
    target = home()
    if installed():
        return target
    machine = platform.machine()
    if sys.platform != "linux" or machine not in WHEELS:
        raise EngineMissing(
            f"OSRM's programs are packaged for Linux x86_64 and aarch64, not {machine}"
        )
    wheel, sha256 = WHEELS[machine]
    if callable(say):
        say(f"downloading OSRM {OSRM_VERSION}'s programs (osrm-bindings wheel, about 21 MB)")
    with tempfile.TemporaryDirectory() as tmp:
        requirement = Path(tmp) / "requirements.txt"
        requirement.write_text(f"osrm-bindings=={OSRM_VERSION} --hash=sha256:{sha256}\n")
        tag = wheel.rsplit("-", 1)[-1].removesuffix(".whl")
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "--python-version", "3.12", "--platform", tag,
            "--require-hashes", "-r", str(requirement), "-d", tmp,
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 - pip, with arguments we built
            command,
            capture_output=True,
            text=True,
            check=False,
        )
        path = Path(tmp) / wheel
        if done.returncode != 0 or not path.exists():
            raise EngineMissing(f"downloading {wheel} failed: {done.stderr.strip()[-500:]}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise EngineMissing(f"{wheel}: SHA-256 {digest}, expected {sha256}")
        staging = Path(tempfile.mkdtemp(prefix="osrm-", dir=target.parent))
        try:
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    if member.startswith("osrm/bin/"):
                        out = staging / "bin" / Path(member).name
                    elif member.startswith("osrm/share/profiles/"):
                        out = staging / "profiles" / member.removeprefix("osrm/share/profiles/")
                    else:
                        continue
                    if member.endswith("/"):
                        continue
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(archive.read(member))
                    if out.parent.name == "bin":
                        out.chmod(0o755)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


if __name__ == "__main__":  # ./dev: install once, quietly when already there
    try:
        install(lambda msg: print(f"[dev] {msg}", file=sys.stderr))
    except EngineMissing as exc:
        print(f"[dev] roads: {exc} (travel falls back to the straight line)", file=sys.stderr)
