"""PointNet for semantic segmentation (Qi, Su, Mo, Guibas, "PointNet: Deep Learning on Point Sets for 3D
Classification and Segmentation", CVPR 2017).

The layout follows the S3DIS network of the reference implementation, charlesq34/pointnet
`sem_seg/model.py` (`get_model`), which differs from the part-segmentation figure of the paper:

- no input/feature transform nets (T-Nets) - the reference S3DIS model has none;
- a shared per-point MLP 64-64-64-128-1024 (1x1 convolutions, each with batch norm and ReLU) on the 9 input
  features (block-centred xyz, rgb, room-normalised xyz);
- a global max pool over the points, then two fully connected layers 256-128 (batch norm + ReLU) that
  compress the 1024-d global feature to 128;
- the 128-d global feature is tiled to every point and concatenated with the 1024-d per-point feature
  (1152 channels), then a shared MLP 512-256, dropout (keep 0.7 in the reference, i.e. p = 0.3) and a final
  1x1 convolution to K class logits (no batch norm, no ReLU).

``width`` multiplies every hidden width (the demo uses 0.25); ``width=1`` is the reference network.
"""

from __future__ import annotations

import torch
from torch import nn

# charlesq34/pointnet sem_seg/model.py: conv1..conv5, fc1..fc2, conv6..conv7
POINT_MLP = (64, 64, 64, 128, 1024)
GLOBAL_FC = (256, 128)
HEAD_MLP = (512, 256)


def _scaled(channels: int, width: float) -> int:
    return max(8, int(round(channels * width)))


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True))


class PointNetSeg(nn.Module):
    """PointNet semantic segmentation network (S3DIS variant of the reference).

    Args:
        in_channels: input features per point (9 = xyz centred, rgb, xyz / room extent).
        num_classes: K, the number of output classes (13 for S3DIS).
        width: multiplier applied to every hidden layer width (1.0 = reference sizes).
        dropout: dropout probability before the classifier (reference: keep_prob 0.7 -> 0.3).

    Shapes:
        forward(features (B, C_in, N), coord (B, N, 3) or None) -> logits (B, K, N).
        ``coord`` is accepted for the common 3D contract and ignored: PointNet reads positions from the
        features.
    """

    def __init__(self, in_channels: int = 9, num_classes: int = 13, width: float = 1.0, dropout: float = 0.3):
        super().__init__()
        if in_channels < 1 or num_classes < 1 or width <= 0 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"bad PointNetSeg arguments: in_channels={in_channels}, num_classes={num_classes}, "
                             f"width={width}, dropout={dropout}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        point = [_scaled(c, width) for c in POINT_MLP]
        fc = [_scaled(c, width) for c in GLOBAL_FC]
        head = [_scaled(c, width) for c in HEAD_MLP]

        layers, c = [], in_channels
        for c_out in point:
            layers.append(_conv_bn_relu(c, c_out))
            c = c_out
        self.point_mlp = nn.Sequential(*layers)

        layers = []
        for c_out in fc:
            layers += [nn.Linear(c, c_out, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
            c = c_out
        self.global_fc = nn.Sequential(*layers)

        layers, c = [], point[-1] + fc[-1]
        for c_out in head:
            layers.append(_conv_bn_relu(c, c_out))
            c = c_out
        self.head = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv1d(c, num_classes, 1)

    def forward(self, features: torch.Tensor, coord: torch.Tensor | None = None) -> torch.Tensor:
        """Per-point class logits.

        Shapes:
            features (B, C_in, N), coord (B, N, 3) (unused) -> logits (B, K, N).
        """
        if features.dim() != 3 or features.shape[1] != self.in_channels:
            raise ValueError(f"PointNetSeg expects features (B, {self.in_channels}, N), "
                             f"got {tuple(features.shape)}")
        n = features.shape[2]
        point_feat = self.point_mlp(features)                     # (B, 1024, N)
        global_feat = point_feat.amax(dim=2)                      # (B, 1024) symmetric max pool
        global_feat = self.global_fc(global_feat)                 # (B, 128)
        tiled = global_feat.unsqueeze(2).expand(-1, -1, n)        # (B, 128, N)
        x = self.head(torch.cat([point_feat, tiled], dim=1))      # (B, 256, N)
        return self.classifier(self.dropout(x))                   # (B, K, N)


__all__ = ["PointNetSeg"]
