"""Quarantine: where files that cannot be decoded go, each with a `<name>.reason.txt` beside it.

    <quarantine>/<area>/<relative path>              the file, moved (never copied or lost)
    <quarantine>/<area>/<relative path>.reason.txt   first line: the reason; then details

`<quarantine>` is `$HEXO_DATA_DIR/quarantine` beside a local lake, `<HEXO_LAKE_URL>/_quarantine` when the
lake is on object storage (storage.beside_lake), so every machine's quarantine is in one place, where dbt's
`stg_lake__quarantine` reads it. The file is stored first, then its reason record (each whole or not at
all); a record counts only while its file is there, so a reader never lists a file that is not stored.

Every caller that quarantines (signal downloads, range exports, inbox files, imported exports) goes
through `quarantine_file`; `quarantined` lists what is there, for asset checks.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from . import storage

REASON_SUFFIX = ".reason.txt"


def quarantine_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    """The quarantine of this environment (beside the lake: a local folder or the lake's object storage)."""
    return storage.beside_lake("quarantine", data_root)


def quarantine_file(src: Path, dest: Path, reason: str) -> Path:
    """Move the local file `src` to `dest` (local, or an object of the lake's storage) and write the
    reason beside it (a `quarantined_at` line is added). `src` goes only once both are stored."""
    text = reason.rstrip("\n")
    if "quarantined_at:" not in text:
        text += f"\nquarantined_at: {datetime.now(UTC).isoformat()}"
    storage.move_file(src, dest)
    storage.write_bytes_atomic((text + "\n").encode(), dest.with_name(dest.name + REASON_SUFFIX))
    return dest


def move_to_quarantine(data_root: Path, src: Path, reason: str, *, relative: str) -> Path:
    """Move an undecodable file to `<quarantine>/<relative>` with a `.reason.txt` beside it."""
    return quarantine_file(src, quarantine_root(Path(data_root).resolve()) / relative, reason)


def quarantined(data_root: str | os.PathLike[str], area: str) -> dict[str, str]:
    """Files currently in `<quarantine>/<area>/` -> their reason (first line of the reason file)."""
    listed = storage.list_files(quarantine_root(Path(data_root).resolve()) / area)
    present = {f.relative for f in listed}  # files, and the folders holding them (a quarantined export folder)
    present |= {parent.as_posix() for f in listed for parent in Path(f.relative).parents if parent != Path(".")}
    out: dict[str, str] = {}
    for record in listed:
        target = record.relative[: -len(REASON_SUFFIX)]
        if record.relative.endswith(REASON_SUFFIX) and target in present:
            out[target] = (record.path.read_text().splitlines() or [""])[0]
    return out
