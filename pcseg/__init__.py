"""pcseg: point-cloud semantic segmentation (PointNet, A-CNN, range-image DeepLabv3+/U-Net).

Importing the package is cheap: torch, open3d and friends are imported by the modules that use them.
"""

__version__ = "0.1.0"

from pcseg.errors import PcsegError  # noqa: E402

__all__ = ["PcsegError", "__version__"]
