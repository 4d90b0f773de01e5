"""A-CNN for semantic segmentation (Komarichev, Zhong, Hua, "A-CNN: Annularly Convolutional Neural Networks
on Point Clouds", CVPR 2019, arXiv 1904.08017).

Structure of the reference segmentation network, artemkomarichev/a-cnn ``models/acnn_segm_rings.py`` with
``utils/pointnet_util.py`` (``acnn_module_rings``, ``pointnet_sa_module``, ``pointnet_fp_module``):

- **Annular convolution** (paper sec. 3.1-3.2): around each centroid, a ring query takes the k nearest points
  with ``r_in <= d < r_out`` (:func:`pcseg.ops.neighbors.ring_query`); they are ordered counter-clockwise on
  the tangent plane of the centroid's normal (:func:`pcseg.ops.ordering.order_neighbors`); their features
  are concatenated with their coordinates relative to the centroid, and each layer pads the ring circularly
  with its first two neighbours, applies a 1x3 convolution + batch norm + ReLU; a max over the ring gives
  the centroid's feature. Every set-abstraction level runs a regular ring and a dilated ring (the dilated
  one skips the inner disc) and concatenates them.
- **Levels** (reference numbers): level 1: 512 FPS centroids, rings [0, 0.1] k=16 MLP 32-32-64 and
  [0.1, 0.2] k=48 MLP 64-64-128; level 2: 128 centroids, rings [0.1, 0.2] k=16 MLP 64-64-128 and [0.3, 0.4]
  k=48 MLP 128-128-256; level 3: one global PointNet layer 256-512-1024 with max pooling.
- **Decoder**: three feature-propagation branches, each interpolating one level back to every input point
  with 3-NN inverse squared distance weights (PointNet++ eq. 2, :mod:`pcseg.ops.interpolate`): level 3 ->
  MLP 64, level 2 -> MLP 64, level 1 (+ the input point features) -> MLP 128-128-128; the three are
  concatenated with the point coordinates and classified by 1x1 convolutions 256-256-128 with batch norm,
  ReLU and dropout 0.4 (reference keep_prob 0.6) after the first two, then a 1x1 convolution to K logits.
  (The reference also concatenates a one-hot object category, which exists only in part segmentation.)

**Adaptation to S3DIS 1 m blocks** (the paper reports S3DIS but publishes no S3DIS network):

- *Ring radii stay in metres as in the reference* (0.1/0.2 m at level 1, 0.2/0.4 m at level 2; ``radius_scale``
  multiplies them). The reference's ShapeNet shapes fit the unit sphere (about 2 m across in the same units);
  a 1 m x 1 m S3DIS block is 1 m across in x-y, and these radii match the scales PointNet++ uses on indoor
  scenes (0.1-0.8 m for ScanNet, Qi et al. 2017 sec. 4), so the outer ring of level 2 spans 0.8 m, about the
  block, before the global level.
- *Centroid counts scale with the points per block*: the reference samples 1/4 then 1/16 of its 2048 input
  points (512, 128); ``centroid_ratios=(1/4, 1/16)`` keeps those fractions, so 4096-point blocks get 1024 and
  256 centroids (1024-point blocks 256 and 64; ``configs/demo_acnn.yaml`` halves them to save CPU time).
- *Normals*: S3DIS has none. Unless ``normal_channel`` names where they sit in the input features, they are
  estimated inside ``forward`` from the block coordinates by PCA over the 16 nearest neighbours and oriented
  towards the block's centroid (:mod:`pcseg.ops.normals`), so floor normals point up, ceiling normals down
  and walls into the room, consistently in every block (the ring ordering depends on the normal's sign).
  The normals are appended to the point features, as the reference feeds normals as level-0 features.
- *Inputs*: the 9 PointNet block channels (block-centred xyz, rgb, xyz / room extent) plus normals; ring
  offsets are divided by the ring's outer radius so that every ring sees coordinates in [-1, 1] next to
  features of order 1 (the reference feeds raw offsets of ShapeNet's unit-sphere scale).

``width`` multiplies every hidden width (the demo uses a quarter-width network).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from pcseg.ops.interpolate import interpolate, three_nn_weights
from pcseg.ops.neighbors import ring_query
from pcseg.ops.normals import estimate_normals, orient_normals
from pcseg.ops.ordering import order_neighbors
from pcseg.ops.sampling import fps, gather_points

# artemkomarichev/a-cnn models/acnn_segm_rings.py, get_model: (r_in, r_out, k, MLP) per ring
LEVEL1_RINGS = ((0.0, 0.1, 16, (32, 32, 64)), (0.1, 0.2, 48, (64, 64, 128)))
LEVEL2_RINGS = ((0.1, 0.2, 16, (64, 64, 128)), (0.3, 0.4, 48, (128, 128, 256)))
GLOBAL_MLP = (256, 512, 1024)
FP_MLPS = ((64,), (64,), (128, 128, 128))           # fa_layer1_up (level 3), fa_layer2_up, fa_layer3_up
HEAD_MLP = (256, 256, 128)                          # fc1, fc2, fc3
CENTROID_RATIOS = (512 / 2048, 128 / 2048)          # reference: 2048 points -> 512 -> 128 centroids


def _scaled(channels: int, width: float) -> int:
    return max(8, int(round(channels * width)))


def _mlp1d(c_in: int, widths: Sequence[int]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for c_out in widths:
        layers += [nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
        c_in = c_out
    return nn.Sequential(*layers), c_in


class Dropout(nn.Module):
    """Inverted dropout like ``nn.Dropout``, with the mask drawn by ``torch.rand`` instead of ``bernoulli_``
    (about 3x faster on CPU; at 1 M activations per layer that was 10 % of a demo training step).

    Shapes: (any) -> same.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class AnnularConv(nn.Module):
    """One ring of A-CNN: ring query, counter-clockwise ordering, circular 1x3 convolutions, max over the ring.

    Shapes: forward(xyz (B, N, 3), features (B, C, N), centers (B, M, 3), normals (B, M, 3))
    -> (B, mlp[-1], M).
    """

    def __init__(self, in_channels: int, r_in: float, r_out: float, k: int, mlp: Sequence[int]):
        super().__init__()
        self.r_in, self.r_out, self.k = float(r_in), float(r_out), int(k)
        layers: list[nn.Module] = []
        c = in_channels + 3
        for c_out in mlp:
            layers.append(nn.Sequential(nn.Conv2d(c, c_out, (1, 3), bias=False), nn.BatchNorm2d(c_out),
                                        nn.ReLU(inplace=True)))
            c = c_out
        self.layers = nn.ModuleList(layers)
        self.out_channels = c

    def forward(self, xyz: torch.Tensor, features: torch.Tensor, centers: torch.Tensor,
                normals: torch.Tensor) -> torch.Tensor:
        b, n, _ = xyz.shape
        with torch.no_grad():
            idx, _ = ring_query(centers, xyz, self.r_in, self.r_out, min(self.k, n))
            idx = order_neighbors(idx, xyz, centers, normals)                     # (B, M, k)
            rows = idx + (torch.arange(b, device=idx.device) * n).view(b, 1, 1)
        # gather point rows (channels last), then offsets relative to the centroid, scaled by r_out
        table = torch.cat([features.transpose(1, 2), xyz / self.r_out], dim=-1)   # (B, N, C + 3)
        x = torch.index_select(table.reshape(b * n, -1), 0, rows.reshape(-1)).view(*rows.shape, -1)
        shift = torch.zeros(b, centers.shape[1], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        shift[..., -3:] = centers.unsqueeze(2) / self.r_out
        x = (x - shift).permute(0, 3, 1, 2)                  # (B, C + 3, M, k), channels_last memory
        for layer in self.layers:
            x = layer(torch.cat([x, x[..., :2]], dim=-1))    # circular padding: k + 2 -> k
        return x.amax(dim=-1)

    def extra_repr(self) -> str:
        return f"ring=[{self.r_in:g}, {self.r_out:g}), k={self.k}"


class RingSetAbstraction(nn.Module):
    """FPS centroids + one :class:`AnnularConv` per ring, concatenated (``acnn_module_rings``).

    Shapes: forward(xyz (B, N, 3), features (B, C, N), normals (B, N, 3), m) -> centers (B, m, 3),
    features (B, sum of ring outputs, m), center normals (B, m, 3).
    """

    def __init__(self, in_channels: int, rings: Sequence[tuple[float, float, int, Sequence[int]]]):
        super().__init__()
        self.rings = nn.ModuleList(AnnularConv(in_channels, *ring) for ring in rings)
        self.out_channels = sum(r.out_channels for r in self.rings)

    def forward(self, xyz: torch.Tensor, features: torch.Tensor, normals: torch.Tensor,
                m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            idx = fps(xyz, m)
            centers = gather_points(xyz, idx)
            center_normals = gather_points(normals, idx)
        out = torch.cat([ring(xyz, features, centers, center_normals) for ring in self.rings], dim=1)
        return centers, out, center_normals


class ACNNSeg(nn.Module):
    """A-CNN semantic segmentation network (see the module docstring for the structure and the S3DIS
    adaptation).

    Args:
        in_channels: input features per point (9: block-centred xyz, rgb, xyz / room extent; 12 with normals).
        num_classes: K (13 for S3DIS).
        width: multiplier of every hidden width (1.0 = reference sizes).
        centroid_ratios: centroids of levels 1 and 2 as fractions of the points per block.
        radius_scale: multiplies every ring radius (metres).
        ring_k_scale: multiplies every ring's neighbour count k (at least 4); sparse blocks (the 1024-point
            demo blocks hold about half the reference's ring points) waste less work on repeated slots.
        normal_channel: index of the first of three normal channels in the features, or None to estimate
            normals from ``coord`` (PCA over ``normal_k`` neighbours).
        normal_k: neighbours of the PCA normal estimate.
        dropout: dropout probability in the classifier (reference keep_prob 0.6 -> 0.4).

    Shapes:
        forward(features (B, C_in, N), coord (B, N, 3) block-local metres) -> logits (B, K, N).
    """

    def __init__(self, in_channels: int = 9, num_classes: int = 13, width: float = 1.0,
                 centroid_ratios: Sequence[float] = CENTROID_RATIOS, radius_scale: float = 1.0,
                 ring_k_scale: float = 1.0, normal_channel: int | None = None, normal_k: int = 16,
                 dropout: float = 0.4):
        super().__init__()
        ratios = tuple(float(r) for r in centroid_ratios)
        if (in_channels < 1 or num_classes < 1 or width <= 0 or radius_scale <= 0 or ring_k_scale <= 0
                or len(ratios) != 2 or not all(0 < r <= 1 for r in ratios) or not 0.0 <= dropout < 1.0
                or normal_k < 3 or (normal_channel is not None and not 0 <= normal_channel <= in_channels - 3)):
            raise ValueError(f"bad ACNNSeg arguments: in_channels={in_channels}, num_classes={num_classes}, "
                             f"width={width}, centroid_ratios={centroid_ratios}, radius_scale={radius_scale}, "
                             f"ring_k_scale={ring_k_scale}, normal_channel={normal_channel}, "
                             f"normal_k={normal_k}, dropout={dropout}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.centroid_ratios = ratios
        self.normal_channel, self.normal_k = normal_channel, normal_k

        def rings(spec):
            return [(r_in * radius_scale, r_out * radius_scale, max(4, round(k * ring_k_scale)),
                     [_scaled(c, width) for c in mlp])
                    for r_in, r_out, k, mlp in spec]

        c0 = in_channels + (3 if normal_channel is None else 0)         # estimated normals are appended
        self.sa1 = RingSetAbstraction(c0, rings(LEVEL1_RINGS))
        self.sa2 = RingSetAbstraction(self.sa1.out_channels, rings(LEVEL2_RINGS))
        self.sa3, c3 = _mlp1d(self.sa2.out_channels + 3, [_scaled(c, width) for c in GLOBAL_MLP])
        self.fp3, f3 = _mlp1d(c3, [_scaled(c, width) for c in FP_MLPS[0]])
        self.fp2, f2 = _mlp1d(self.sa2.out_channels, [_scaled(c, width) for c in FP_MLPS[1]])
        self.fp1, f1 = _mlp1d(self.sa1.out_channels + c0, [_scaled(c, width) for c in FP_MLPS[2]])
        head: list[nn.Module] = []
        c = f3 + f2 + f1 + 3
        for i, c_out in enumerate(_scaled(c_, width) for c_ in HEAD_MLP):
            head += [nn.Conv1d(c, c_out, 1, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
            if i < 2:
                head.append(Dropout(dropout))
            c = c_out
        head.append(nn.Conv1d(c, num_classes, 1))
        self.head = nn.Sequential(*head)

    def centroid_counts(self, n: int) -> tuple[int, int]:
        """Centroids of levels 1 and 2 for blocks of ``n`` points."""
        m1 = min(n, max(1, round(n * self.centroid_ratios[0])))
        m2 = min(m1, max(1, round(n * self.centroid_ratios[1])))
        return m1, m2

    def forward(self, features: torch.Tensor, coord: torch.Tensor | None = None) -> torch.Tensor:
        if features.dim() != 3 or features.shape[1] != self.in_channels:
            raise ValueError(f"ACNNSeg expects features (B, {self.in_channels}, N), got {tuple(features.shape)}")
        if coord is None:                        # the block features start with block-local xyz
            coord = features[:, :3].transpose(1, 2)
        xyz = coord.detach().to(features.dtype).contiguous()
        with torch.no_grad():
            if self.normal_channel is None:
                normals = estimate_normals(xyz, self.normal_k)
            else:
                given = features[:, self.normal_channel:self.normal_channel + 3].transpose(1, 2)
                normals = orient_normals(xyz, given)
        normals = normals.to(features.dtype)
        l0 = features if self.normal_channel is not None else torch.cat([features, normals.transpose(1, 2)], 1)
        m1, m2 = self.centroid_counts(xyz.shape[1])

        xyz1, l1, nrm1 = self.sa1(xyz, l0, normals, m1)
        xyz2, l2, _ = self.sa2(xyz1, l1, nrm1, m2)
        l3 = self.sa3(torch.cat([xyz2.transpose(1, 2), l2], dim=1)).amax(dim=-1, keepdim=True)   # (B, C3, 1)

        n = xyz.shape[1]
        # one global point: interpolation copies it to every point, so the MLP runs once per block (the
        # batch-norm statistics over B x N identical copies are those over the B blocks)
        g = l3.expand(-1, -1, 2) if self.training and l3.shape[0] == 1 else l3     # batch norm needs 2 values
        up3 = self.fp3(g)[..., :1].expand(-1, -1, n)
        with torch.no_grad():
            idx2, w2 = three_nn_weights(xyz, xyz2)
            idx1, w1 = three_nn_weights(xyz, xyz1)
        up2 = self.fp2(interpolate(l2, idx2, w2))
        up1 = self.fp1(torch.cat([interpolate(l1, idx1, w1), l0], dim=1))
        return self.head(torch.cat([up3, up2, up1, xyz.transpose(1, 2)], dim=1))
