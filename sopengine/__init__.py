"""sopengine: run an SOP Administrasi Pemerintahan as an executable, auditable process.

The public names are imported lazily so that ``import sopengine`` (and the CLI's
start-up) stays cheap; see :mod:`sopengine.api` for the library entry points.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
