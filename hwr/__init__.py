__version__ = "0.1.0"
# Written by hand (nbdev keeps it and only updates the version): before any module of hwr imports TensorFlow,
# silence its start-up log unless HWR_VERBOSE is set (see `quiet_startup` in nbs/90_util.ipynb).
from .util import quiet_startup as _quiet_startup
_quiet_startup()
