"""U-Net for range images.

Ronneberger et al., "U-Net: Convolutional Networks for Biomedical Image Segmentation" (MICCAI 2015), Fig. 1:
per level two 3x3 convs, 2x2 max-pool down, 2x2 up-convolution up, the encoder feature of the same level
concatenated before the decoder convs, a 1x1 classifier. Changed here (documented choices): same padding (so
the output has the input's size and no cropping is needed), BatchNorm after every conv, configurable depth and
base width (the paper: depth 4, width 64; default here 4 and 32 for CPU-sized range images).
"""

from __future__ import annotations

import torch
from torch import nn


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Encoder-decoder with skip connections.

    Args:
        in_channels: input channels.
        num_classes: output classes K.
        width: channels of the first level; level i has width * 2**i (capped by ``max_width``).
        depth: number of 2x downsamplings; H and W must be multiples of 2**depth.
        max_width: channel cap for deep levels (None: no cap).
        dropout: Dropout2d before the classifier.

    Shapes: (B, in_channels, H, W) -> logits (B, num_classes, H, W)
    """

    def __init__(self, in_channels: int = 5, num_classes: int = 19, width: int = 32, depth: int = 4,
                 max_width: int | None = None, dropout: float = 0.1):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.depth = int(depth)
        chans = [width * 2 ** i for i in range(depth + 1)]
        if max_width:
            chans = [min(c, int(max_width)) for c in chans]
        self.down = nn.ModuleList([_double_conv(in_channels, chans[0])])
        self.down.extend(_double_conv(chans[i], chans[i + 1]) for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in range(depth))
        self.merge = nn.ModuleList(_double_conv(2 * chans[i], chans[i]) for i in range(depth))
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(chans[0], num_classes, 1)

    def check_size(self, h: int, w: int) -> None:
        """Raise ValueError unless (h, w) survives ``depth`` halvings exactly."""
        m = 2 ** self.depth
        if h % m or w % m or h <= 0 or w <= 0:
            raise ValueError(f"H and W must be multiples of {m} (2**depth), got {h}x{w}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"expected a (B, C, H, W) image batch, got shape {tuple(x.shape)}")
        self.check_size(*x.shape[-2:])
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for i in reversed(range(self.depth)):
            x = self.merge[i](torch.cat([self.up[i](x), skips.pop()], dim=1))
        return self.classifier(self.dropout(x))


__all__ = ["UNet"]
