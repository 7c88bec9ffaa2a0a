"""The router function's package: what `sam build` would put in the zip, zipped and unzipped.

`sam build` is emulated when `sam` is not on PATH (it is kept out of the project's venv):
`pip install --target` of functions/requirements.txt for the function's platform (arm64,
python3.12: manylinux2014_aarch64, cp312, wheels only), falling back to this machine's platform
when that cannot resolve, plus the code in functions/ (CodeUri). boto3/botocore come from the
Lambda runtime (requirements.txt leaves them out); if a dependency pulls them in anyway, they
are reported and counted, as sam build would ship them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from common import FUNCTIONS, OUT, PROJECT_PYTHON, Row, log

PLATFORM_ARGS = [
    "--platform",
    "manylinux2014_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
]
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = (".egg-info",)


def _install(target: Path) -> str:
    base = [
        PROJECT_PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "-r",
        str(FUNCTIONS / "requirements.txt"),
    ]
    log_path = OUT / "package-pip.log"
    with log_path.open("w") as out:
        done = subprocess.run([*base, *PLATFORM_ARGS], stdout=out, stderr=out, timeout=600)
        if done.returncode == 0:
            return "linux arm64 / cp312 wheels (the function's platform)"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        done = subprocess.run(base, stdout=out, stderr=out, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"pip install --target failed (see {log_path})")
    return "THIS machine's platform (arm64/cp312 wheels did not resolve)"


def _copy_code(target: Path) -> None:
    for entry in FUNCTIONS.iterdir():
        if entry.name in SKIP_DIRS or entry.name.endswith(SKIP_SUFFIXES):
            continue
        dest = target / entry.name
        if entry.is_dir():
            shutil.copytree(
                entry,
                dest,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        else:
            shutil.copy2(entry, dest)


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
    sam = shutil.which("sam")
    with tempfile.TemporaryDirectory(prefix="modelyard-pkg-") as tmp:
        target = Path(tmp) / "RouterFunction"
        target.mkdir()
        log(
            "package: pip install --target (emulating sam build)"
            + (f"; sam is at {sam} but not used: it needs a python3.12 on PATH" if sam else "")
        )
        platform = _install(target)
        _copy_code(target)
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
            "router function unzipped (sam build emulated)",
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
            f"our code alone {code / 1e6:.2f} MB unzipped",
        ),
    ]


if __name__ == "__main__":
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    for row in run(quick=True):
        print(row)
