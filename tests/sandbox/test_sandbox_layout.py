"""The sandbox's rooms depend one way: `server` -> `formats` -> `world` (and all may use the pipeline's vendor
constants in `hexo_pipeline.hexoskin`); `world` and `formats` know nothing of Flask."""

from __future__ import annotations

import ast
from pathlib import Path

import hexo_sandbox

ROOT = Path(hexo_sandbox.__file__).resolve().parent
MAY_IMPORT = {"world": {"world"}, "formats": {"formats", "world"}, "server": {"server", "formats", "world"}}


def _sandbox_imports(path: Path) -> set[str]:
    """The sandbox rooms (world, formats, server) and third-party roots a module imports."""
    room = path.parent.name
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            target = (node.module or "").split(".")[0] if node.level == 2 else room
            found.add(target or next(a.name for a in node.names))
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found


def test_rooms_depend_one_way_and_only_the_server_knows_flask():
    checked = 0
    for room, allowed in MAY_IMPORT.items():
        for path in sorted((ROOT / room).glob("*.py")):
            imports = _sandbox_imports(path)
            assert imports & set(MAY_IMPORT) <= allowed, (path.name, imports & set(MAY_IMPORT))
            if room != "server":
                assert not imports & {"flask", "werkzeug"}, path.name
            checked += 1
    assert checked == len(list(ROOT.glob("*/*.py")))
