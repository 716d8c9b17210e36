"""A local server that behaves like the Hexoskin REST API, over a synthetic study.

It is the project's default data source for the demo and the bed every test lies in. The pipeline
(`hexo_pipeline`) never imports it: the demo starts it as a process (`python -m hexo_sandbox serve`).

- `world`: the synthetic study (people, wear, signals, planning, GPS routes, ground truth);
- `formats`: the files it emits and accepts (WAV / .hxd / zip, JSON, CSV, TCX, FIT);
- `server`: the Flask app emulating the Tastypie API, authentication, faults, and `serve`.
"""

from .server.faults import FaultConfig
from .world.study import StudyConfig

__all__ = ["FaultConfig", "StudyConfig", "start_sandbox"]


def start_sandbox(*args, **kwargs):
    # Imported lazily: the server pulls in Flask and the signal generator.
    from .server.serve import start_sandbox as _start

    return _start(*args, **kwargs)
