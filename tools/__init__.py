"""Operator tools, run from a checkout of this repository: `python -m tools.<name>`.

They use the connector's own package, which lives in the layer's directory (`layers/crmsync`)
and is not on the path of a plain `python -m`; it is appended here, so a `PYTHONPATH` that
names another copy still wins.
"""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parents[1] / "layers" / "crmsync")
if _LAYER not in sys.path:
    sys.path.append(_LAYER)
