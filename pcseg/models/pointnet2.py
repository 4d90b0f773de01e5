"""PointNet++ for semantic segmentation (Qi, Yi, Su, Guibas, "PointNet++: Deep Hierarchical Feature Learning
on Point Sets in a Metric Space", NeurIPS 2017), single-scale grouping, built from PyTorch Geometric layers.

Sizes of the reference scene-segmentation network, charlesq34/pointnet2 ``models/pointnet2_sem_seg.py``
(the ScanNet model; the paper publishes no S3DIS network):

- **Set abstraction** x4 (paper sec. 3.2): farthest point sampling keeps 1/8, then 1/4, 1/4, 1/4 of the
  points (8192 -> 1024 -> 256 -> 64 -> 16); each centroid groups at most 32 points closer than 0.1, 0.2,
  0.4, 0.8 m (:func:`pcseg.ops.pyg.radius`); PyG's ``PointNetConv`` applies a shared MLP to
  ``[x_j, pos_j - pos_i]`` and max-pools (MLPs 32-32-64, 64-64-128, 128-128-256, 256-256-512).
- **Feature propagation** x4 (sec. 3.4): features of each level are interpolated to the next finer level by
  inverse squared distance over the 3 nearest points (:func:`pcseg.ops.pyg.knn_interpolate`, eq. 2 with
  p = 2, k = 3), concatenated with that level's skip features and passed through an MLP (256-256, 256-256,
  256-128, 128-128-128); the finest level's skip features are the input point features.
- **Head**: 128 + batch norm + ReLU, dropout 0.5, linear to K logits.

``width`` multiplies every hidden width, ``radius_scale`` every radius; ``ratios`` sets the sampling.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from pcseg.models._graph import mlp, require_pyg, scaled, stack_points, unstack_logits
from pcseg.ops.pyg import fps, knn_interpolate, radius

# charlesq34/pointnet2 models/pointnet2_sem_seg.py: (npoint ratio, radius, nsample, MLP) per SA level
SA_LEVELS = ((1 / 8, 0.1, 32, (32, 32, 64)), (1 / 4, 0.2, 32, (64, 64, 128)),
             (1 / 4, 0.4, 32, (128, 128, 256)), (1 / 4, 0.8, 32, (256, 256, 512)))
FP_MLPS = ((256, 256), (256, 256), (256, 128), (128, 128, 128))    # fp from the coarsest level down
HEAD = 128
DROPOUT = 0.5


class SetAbstraction(nn.Module):
    """FPS centroids, radius groups, PointNetConv (shared MLP on [x_j, pos_j - pos_i], max over j).

    Shapes: forward(x (N, C), pos (N, 3), batch (N,)) -> x (M, mlp[-1]), pos (M, 3), batch (M,).
    """

    def __init__(self, in_channels: int, ratio: float, r: float, k: int, widths: Sequence[int]):
        super().__init__()
        self.ratio, self.r, self.k = float(ratio), float(r), int(k)
        self.conv = require_pyg().PointNetConv(mlp([in_channels + 3, *widths]), add_self_loops=False)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor, pos: torch.Tensor,
                batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            idx = fps(pos, batch, self.ratio, random_start=self.training)
            centre, point = radius(pos, pos[idx], self.r, batch, batch[idx], max_num_neighbors=self.k)
        out = self.conv((x, None), (pos, pos[idx]), torch.stack([point, centre]))
        return out, pos[idx], batch[idx]

    def extra_repr(self) -> str:
        return f"ratio={self.ratio:g}, r={self.r:g}, k={self.k}"


class FeaturePropagation(nn.Module):
    """3-NN inverse-distance interpolation to the finer level, concatenation with its skip features, MLP.

    Shapes: forward(x (M, C), pos (M, 3), batch (M,), skip (N, S), pos_fine (N, 3), batch_fine (N,))
    -> (N, mlp[-1]).
    """

    def __init__(self, in_channels: int, skip_channels: int, widths: Sequence[int]):
        super().__init__()
        self.mlp = mlp([in_channels + skip_channels, *widths])
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor, skip: torch.Tensor,
                pos_fine: torch.Tensor, batch_fine: torch.Tensor) -> torch.Tensor:
        up = knn_interpolate(x, pos, pos_fine, batch, batch_fine, k=3)
        return self.mlp(torch.cat([up, skip], dim=1))


class PointNet2Seg(nn.Module):
    """PointNet++ (SSG) semantic segmentation network (see the module docstring).

    Args:
        in_channels: input features per point (9 = block-centred xyz, rgb, xyz / room extent).
        num_classes: K (13 for S3DIS).
        width: multiplier of every hidden width (1.0 = reference sizes).
        ratios: fraction of the points kept by each of the four set abstractions.
        radius_scale: multiplies every grouping radius (metres).
        max_neighbors: points grouped per centroid at most (reference 32).
        dropout: before the classifier (reference keep_prob 0.5).

    Shapes:
        forward(features (B, C_in, N), coord (B, N, 3) block-local metres) -> logits (B, K, N).
    """

    def __init__(self, in_channels: int = 9, num_classes: int = 13, width: float = 1.0,
                 ratios: Sequence[float] = tuple(level[0] for level in SA_LEVELS), radius_scale: float = 1.0,
                 max_neighbors: int = 32, dropout: float = DROPOUT):
        super().__init__()
        ratios = tuple(float(r) for r in ratios)
        if (in_channels < 1 or num_classes < 1 or width <= 0 or radius_scale <= 0 or max_neighbors < 1
                or len(ratios) != len(SA_LEVELS) or not all(0 < r <= 1 for r in ratios)
                or not 0.0 <= dropout < 1.0):
            raise ValueError(f"bad PointNet2Seg arguments: in_channels={in_channels}, num_classes={num_classes}, "
                             f"width={width}, ratios={ratios}, radius_scale={radius_scale}, "
                             f"max_neighbors={max_neighbors}, dropout={dropout}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.sa = nn.ModuleList()
        skips, c = [in_channels], in_channels
        for ratio, (_, r, _, widths) in zip(ratios, SA_LEVELS):
            level = SetAbstraction(c, ratio, r * radius_scale, max_neighbors, [scaled(w, width) for w in widths])
            self.sa.append(level)
            c = level.out_channels
            skips.append(c)
        self.fp = nn.ModuleList()
        for skip, widths in zip(reversed(skips[:-1]), FP_MLPS):
            level = FeaturePropagation(c, skip, [scaled(w, width) for w in widths])
            self.fp.append(level)
            c = level.out_channels
        head = scaled(HEAD, width)
        self.head = nn.Sequential(mlp([c, head]), nn.Dropout(dropout), nn.Linear(head, num_classes))

    def forward(self, features: torch.Tensor, coord: torch.Tensor | None = None) -> torch.Tensor:
        x, pos, batch = stack_points(features, coord, self.in_channels, "PointNet2Seg")
        levels = [(x, pos, batch)]
        for sa in self.sa:
            levels.append(sa(*levels[-1]))
        x = levels[-1][0]
        for fp, i in zip(self.fp, range(len(levels) - 2, -1, -1)):
            x = fp(x, levels[i + 1][1], levels[i + 1][2], *levels[i])
        return unstack_logits(self.head(x), features.shape[0])


__all__ = ["PointNet2Seg", "SetAbstraction", "FeaturePropagation"]
