"""Quarantine: where files that cannot be decoded go, each with a `<name>.reason.txt` beside it.

    $HEXO_DATA_DIR/quarantine/<area>/<relative path>              the file, moved (never copied or lost)
    $HEXO_DATA_DIR/quarantine/<area>/<relative path>.reason.txt   first line: the reason; then details

Every caller that quarantines (signal downloads, range exports, inbox files) goes through
`quarantine_file`; `quarantined` lists what is there, for asset checks.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

REASON_SUFFIX = ".reason.txt"


def quarantine_file(src: Path, dest: Path, reason: str) -> Path:
    """Move `src` to `dest` and write the reason beside it (a `quarantined_at` line is added)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), dest)
    text = reason.rstrip("\n")
    if "quarantined_at:" not in text:
        text += f"\nquarantined_at: {datetime.now(UTC).isoformat()}"
    dest.with_name(dest.name + REASON_SUFFIX).write_text(text + "\n")
    return dest


def move_to_quarantine(data_root: Path, src: Path, reason: str, *, relative: str) -> Path:
    """Move an undecodable file to `quarantine/<relative>` with a `.reason.txt` beside it."""
    return quarantine_file(src, Path(data_root) / "quarantine" / relative, reason)


def quarantined(data_root: str | os.PathLike[str], area: str) -> dict[str, str]:
    """Files currently in `quarantine/<area>/` -> their reason (first line of the reason file)."""
    base = Path(data_root).resolve() / "quarantine" / area
    out: dict[str, str] = {}
    if not base.is_dir():
        return out
    for reason_file in sorted(base.rglob("*" + REASON_SUFFIX)):
        target = reason_file.with_name(reason_file.name[: -len(REASON_SUFFIX)])
        if target.exists():
            out[target.relative_to(base).as_posix()] = reason_file.read_text().splitlines()[0]
    return out
