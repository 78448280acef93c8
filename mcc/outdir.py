"""Writing an output directory atomically, refusing to clobber files mcc did not write."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import OutputDirError

MANIFEST = "mcc.json"
BUILD_DIR = "build"


def _foreign_files(out: Path) -> list[str]:
    """Files in ``out`` that no earlier mcc run wrote (build products count as mcc's)."""
    present = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                     if p.is_file() and p.relative_to(out).parts[0] != BUILD_DIR)
    try:
        listed = set(json.loads((out / MANIFEST).read_text())["files"]) | {MANIFEST}
    except (OSError, ValueError, KeyError, TypeError):
        return present
    return [p for p in present if p not in listed]


def read_manifest(out: str | Path) -> dict:
    out = Path(out)
    try:
        return json.loads((out / MANIFEST).read_text())
    except FileNotFoundError:
        raise OutputDirError(f"{out}: not an mcc output directory (no {MANIFEST}); run `mcc compile` first") from None
    except ValueError:
        raise OutputDirError(f"{out}/{MANIFEST} is corrupt; compile again") from None


def write_outdir(out: str | Path, files: dict[str, str], manifest: dict, force: bool = False) -> Path:
    """Write ``files`` plus the manifest to ``out`` all at once (temporary folder, then rename)."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise OutputDirError(f"{out} exists and is not a directory")
        foreign = _foreign_files(out)
        if foreign and not force:
            raise OutputDirError(
                f"{out} holds files mcc did not write (e.g. {foreign[0]}); choose another output "
                "directory or pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for rel, text in sorted(files.items()):
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        manifest = dict(manifest, files=sorted(files))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
