"""The router function's package: what `sam build` puts in the zip, zipped and unzipped.

`sam build` runs `make build-RouterFunction` in functions/ (template.yaml: BuildMethod:
makefile), so this runs that target itself (sam is kept out of the project's venv): wheels for
the function's platform (arm64, cp312), the code, the .pyc files. The .pyc files are only right
when written by the runtime's Python (3.12); without one on this machine they are written by
this Python and the row says so. `build_here()` makes the same package for this machine's
platform and Python, which coldstart.py imports to time a cold start from the built package.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from common import FUNCTIONS, OUT, PROJECT_PYTHON, Row, log

RUNTIME_PYTHON = "3.12"  # template.yaml Globals: Runtime
THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def _runtime_python() -> str | None:
    """A python3.12 to write the .pyc files with (PATH, or a pyenv install)."""
    for candidate in [
        shutil.which("python3.12"),
        *glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")),
    ]:
        if (
            candidate
            and subprocess.run([candidate, "--version"], capture_output=True, timeout=30).returncode
            == 0
        ):
            return candidate
    return None


def _make(target: Path, python: str, runtime: str, platform: str | None) -> None:
    """`make build-RouterFunction` as sam build runs it; platform None: this machine's."""
    argv = [
        "make",
        "--no-print-directory",
        "-C",
        str(FUNCTIONS),
        "build-RouterFunction",
        f"ARTIFACTS_DIR={target}",
        f"PYTHON={python}",
        f"RUNTIME_PYTHON={runtime}",
    ]
    if platform is None:
        argv.append("WHEEL_PLATFORM=")
    log_path = OUT / "package-build.log"
    with log_path.open("a") as out:
        done = subprocess.run(argv, stdout=out, stderr=out, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"make build-RouterFunction failed (see {log_path})")


def build_here(target: Path) -> None:
    """The router's package for this machine (its wheels, this Python's .pyc files)."""
    _make(target, PROJECT_PYTHON, THIS_PYTHON, platform=None)


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _zip(root: Path, path: Path) -> int:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for file in sorted(root.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(root))
    return path.stat().st_size


def _top(root: Path, count: int = 5) -> str:
    sizes = [(p.name, _size(p) if p.is_dir() else p.stat().st_size) for p in root.iterdir()]
    sizes.sort(key=lambda item: -item[1])
    return ", ".join(f"{name} {size / 1e6:.1f}" for name, size in sizes[:count])


def run(quick: bool) -> list[Row]:
    python = _runtime_python()
    with tempfile.TemporaryDirectory(prefix="modelyard-pkg-") as tmp:
        target = Path(tmp) / "RouterFunction"
        target.mkdir()
        log("package: make build-RouterFunction (what sam build runs), arm64 wheels")
        if python is not None:
            _make(target, python, RUNTIME_PYTHON, platform="manylinux2014_aarch64")
            platform = f"linux arm64 / cp{RUNTIME_PYTHON.replace('.', '')} wheels, .pyc by {python}"
        else:
            _make(target, PROJECT_PYTHON, THIS_PYTHON, platform="manylinux2014_aarch64")
            platform = f"linux arm64 wheels and .pyc for Python {THIS_PYTHON} (no python3.12 here)"
        runtime_provided = [n for n in ("boto3", "botocore", "s3transfer") if (target / n).exists()]
        unzipped = _size(target)
        zipped = _zip(target, Path(tmp) / "router.zip")
        top = _top(target)
        code = sum(_size(target / n) for n in ("modelyard", "handlers") if (target / n).exists())
    note = f"{platform}; largest (MB): {top}"
    if runtime_provided:
        note += f"; pulled in though the runtime has them: {', '.join(runtime_provided)}"
    else:
        note += "; no boto3/botocore (the runtime's)"
    return [
        Row(
            "package",
            "router function unzipped (sam build's makefile target)",
            unzipped / 1e6,
            "MB",
            250.0,
            "Lambda's unzipped limit",
            note,
            target="< 20 MB",
            met=unzipped < 20e6,
        ),
        Row(
            "package",
            "router function zipped",
            zipped / 1e6,
            "MB",
            unzipped / 1e6,
            "unzipped MB",
            f"our code alone {code / 1e6:.2f} MB unzipped, with its .pyc files",
        ),
    ]


if __name__ == "__main__":
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    for row in run(quick=True):
        print(row)
