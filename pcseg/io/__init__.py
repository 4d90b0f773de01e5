"""Readers and writers. Import the specific module (``pcseg.io.s3dis``, ``pcseg.io.files``...); this package
only exposes the Cloud type so that ``import pcseg.io`` stays cheap."""

from pcseg.io.cloud import IGNORE, Cloud

__all__ = ["Cloud", "IGNORE"]
