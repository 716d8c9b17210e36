"""A local server that behaves like the Hexoskin REST API, over a synthetic study.

It is the project's default data source for the demo and the bed every test lies in.
"""

from .faults import FaultConfig
from .study import StudyConfig

__all__ = ["FaultConfig", "StudyConfig", "start_sandbox"]


def start_sandbox(*args, **kwargs):
    # Imported lazily: the server pulls in Flask and the signal generator.
    from .server import start_sandbox as _start

    return _start(*args, **kwargs)
