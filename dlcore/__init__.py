"""dlcore: the course's small deep-learning library, NumPy for the math and
Numba for the loops.

Modules, each one idea:

- :mod:`dlcore.functional`: ``*_forward`` / ``*_backward`` pairs (the math);
- :mod:`dlcore.layers` and :mod:`dlcore.model`: layer objects and ``Sequential``;
- :mod:`dlcore.losses`, :mod:`dlcore.optim`, :mod:`dlcore.init`;
- :mod:`dlcore.regularizers`, :mod:`dlcore.constraints`, :mod:`dlcore.callbacks`;
- :mod:`dlcore.progress`: how ``fit`` shows progress (``$DLCORE_PROGRESS``);
- :mod:`dlcore.autoencoder`: the sparse KL penalty and input corruption;
- :mod:`dlcore.gradcheck`: finite-difference checks;
- :mod:`dlcore.data`: the digits and small synthetic sets.

Importing it compiles nothing: the Numba kernels compile on first use and are
cached on disk.
"""

from . import (
    autoencoder,
    callbacks,
    constraints,
    data,
    functional,
    gradcheck,
    init,
    layers,
    losses,
    model,
    optim,
    progress,
    regularizers,
)
from .model import Sequential

__version__ = "0.1.0"

__all__ = [
    "Sequential",
    "autoencoder",
    "callbacks",
    "constraints",
    "data",
    "functional",
    "gradcheck",
    "init",
    "layers",
    "losses",
    "model",
    "optim",
    "progress",
    "regularizers",
]
