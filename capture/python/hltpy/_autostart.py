"""Imported at interpreter start-up (by hltpy-autostart.pth) only when
HLTPY_TRACE is set: starts a batch capture for this process."""

from hltpy import _batch

_batch.start_from_environment()
