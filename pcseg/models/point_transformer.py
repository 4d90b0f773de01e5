"""Point Transformer for semantic segmentation (Zhao, Jiang, Jia, Torr, Koltun, "Point Transformer",
ICCV 2021), built from PyTorch Geometric's ``PointTransformerConv``.

Structure (paper sec. 3.3-3.4, Fig. 3-4; sizes of the authors' code, hszhao/point-transformer
``model/pointtransformer/pointtransformer_seg.py``, ``pointtransformer_seg_repro``):

- **Point transformer block** (Fig. 4a): linear, vector self-attention over the k nearest neighbours
  (``PointTransformerConv``: ``y_i = sum_j softmax(gamma(phi(x_i) - psi(x_j) + delta)) * (alpha(x_j) + delta)``
  with the position encoding ``delta = theta(p_i - p_j)``, theta an MLP 3-3-C, gamma an MLP C-C/8-C/8
  expanded to C, as the authors share weights over 8 channel groups), linear, residual connection;
  k = 8 at full resolution, 16 below (the authors' nsample).
- **Transition down** (Fig. 4b): farthest point sampling keeps 1/4 of the points; each sampled point
  max-pools an MLP of ``[x_j, p_j - p_i]`` over its 16 nearest input points.
- **Transition up** (Fig. 4c): the coarse features through linear + BN + ReLU are interpolated to the finer
  points (3-NN inverse squared distance, :func:`pcseg.ops.pyg.knn_interpolate`) and added to the finer
  skip features through linear + BN + ReLU.
- **Stages**: channels 32, 64, 128, 256, 512 at N, N/4, N/16, N/64, N/256 points; blocks per encoder stage
  2, 3, 4, 6, 3 (the repro model), one block per decoder stage; the head is an MLP C-C-K. (The authors'
  coarsest decoder stage also mixes in a global mean feature; it is left out here.)

``width`` multiplies every width, ``blocks`` sets the encoder blocks per stage, ``ratio`` the sampling.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from pcseg.models._graph import mlp, require_pyg, scaled, stack_points, unstack_logits
from pcseg.ops.pyg import fps, knn, knn_graph, knn_interpolate

# hszhao/point-transformer pointtransformer_seg.py: planes, blocks (repro), share_planes, nsample, stride
CHANNELS = (32, 64, 128, 256, 512)
BLOCKS = (2, 3, 4, 6, 3)
SHARE_PLANES = 8
NEIGHBORS = (8, 16, 16, 16, 16)
RATIO = 1 / 4


class GroupedAttention(nn.Module):
    """The weight encoding gamma: C -> C/groups -> C/groups, each output shared by ``groups`` channels.

    Shapes: (E, C) -> (E, C).
    """

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.groups = groups if channels % groups == 0 else 1
        inner = channels // self.groups
        self.net = nn.Sequential(nn.BatchNorm1d(channels), nn.ReLU(inplace=True),
                                 nn.Linear(channels, inner, bias=False), nn.BatchNorm1d(inner),
                                 nn.ReLU(inplace=True), nn.Linear(inner, inner))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).repeat_interleave(self.groups, dim=1)


class PointTransformerBlock(nn.Module):
    """Linear -> PointTransformerConv -> linear with a residual connection (paper Fig. 4a).

    Shapes: forward(x (N, C), pos (N, 3), edge_index (2, E)) -> (N, C).
    """

    def __init__(self, channels: int):
        super().__init__()
        pyg_nn = require_pyg()
        self.pre = mlp([channels, channels])
        pos_nn = nn.Sequential(nn.Linear(3, 3, bias=False), nn.BatchNorm1d(3), nn.ReLU(inplace=True),
                               nn.Linear(3, channels))
        self.attn = pyg_nn.PointTransformerConv(channels, channels, pos_nn=pos_nn,
                                                attn_nn=GroupedAttention(channels, SHARE_PLANES))
        self.mid = nn.Sequential(nn.BatchNorm1d(channels), nn.ReLU(inplace=True))
        self.post = nn.Sequential(nn.Linear(channels, channels, bias=False), nn.BatchNorm1d(channels))

    def forward(self, x: torch.Tensor, pos: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        y = self.mid(self.attn(self.pre(x), pos, edge_index))
        return torch.relu(x + self.post(y))


class TransitionDown(nn.Module):
    """FPS to ``ratio`` of the points, then max over the k nearest of an MLP of [x_j, p_j - p_i].

    Shapes: forward(x (N, C), pos (N, 3), batch (N,)) -> x (M, C_out), pos (M, 3), batch (M,).
    """

    def __init__(self, in_channels: int, out_channels: int, ratio: float, k: int):
        super().__init__()
        self.ratio, self.k = float(ratio), int(k)
        self.mlp = mlp([in_channels + 3, out_channels])

    def forward(self, x: torch.Tensor, pos: torch.Tensor,
                batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from torch_geometric.utils import scatter

        with torch.no_grad():
            idx = fps(pos, batch, self.ratio, random_start=self.training)
            centre, point = knn(pos, pos[idx], self.k, batch, batch[idx])
        h = self.mlp(torch.cat([x[point], pos[point] - pos[idx][centre]], dim=1))
        out = scatter(h, centre, dim=0, dim_size=len(idx), reduce="max")
        return out, pos[idx], batch[idx]

    def extra_repr(self) -> str:
        return f"ratio={self.ratio:g}, k={self.k}"


class TransitionUp(nn.Module):
    """Coarse features (linear, BN, ReLU) interpolated to the finer points plus the finer skip features.

    Shapes: forward(x (M, C), pos (M, 3), batch (M,), skip (N, S), pos_fine (N, 3), batch_fine (N,))
    -> (N, S).
    """

    def __init__(self, in_channels: int, skip_channels: int):
        super().__init__()
        self.coarse = mlp([in_channels, skip_channels])
        self.fine = mlp([skip_channels, skip_channels])

    def forward(self, x: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor, skip: torch.Tensor,
                pos_fine: torch.Tensor, batch_fine: torch.Tensor) -> torch.Tensor:
        return self.fine(skip) + knn_interpolate(self.coarse(x), pos, pos_fine, batch, batch_fine, k=3)


class PointTransformerSeg(nn.Module):
    """Point Transformer semantic segmentation network (see the module docstring).

    Args:
        in_channels: input features per point (9 = block-centred xyz, rgb, xyz / room extent).
        num_classes: K (13 for S3DIS).
        width: multiplier of every width (1.0 = the authors' 32 ... 512).
        blocks: point transformer blocks per encoder stage (5 stages).
        ratio: fraction of the points kept by each transition down.
        neighbors: k of the attention and pooling neighbourhoods per stage.

    Shapes:
        forward(features (B, C_in, N), coord (B, N, 3) block-local metres) -> logits (B, K, N).
    """

    def __init__(self, in_channels: int = 9, num_classes: int = 13, width: float = 1.0,
                 blocks: Sequence[int] = BLOCKS, ratio: float = RATIO, neighbors: Sequence[int] = NEIGHBORS):
        super().__init__()
        blocks, neighbors = tuple(int(b) for b in blocks), tuple(int(k) for k in neighbors)
        if (in_channels < 1 or num_classes < 1 or width <= 0 or len(blocks) != len(CHANNELS)
                or len(neighbors) != len(CHANNELS) or min(blocks) < 1 or min(neighbors) < 1 or not 0 < ratio <= 1):
            raise ValueError(f"bad PointTransformerSeg arguments: in_channels={in_channels}, "
                             f"num_classes={num_classes}, width={width}, blocks={blocks}, ratio={ratio}, "
                             f"neighbors={neighbors}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.neighbors = neighbors
        chans = [scaled(c, width) for c in CHANNELS]
        self.stem = mlp([in_channels, chans[0]])
        self.down = nn.ModuleList(TransitionDown(chans[i - 1], chans[i], ratio, neighbors[i])
                                  for i in range(1, len(chans)))
        self.encoder = nn.ModuleList(nn.ModuleList(PointTransformerBlock(c) for _ in range(n))
                                     for c, n in zip(chans, blocks))
        self.up = nn.ModuleList(TransitionUp(chans[i], chans[i - 1]) for i in range(len(chans) - 1, 0, -1))
        self.decoder = nn.ModuleList(PointTransformerBlock(chans[i - 1]) for i in range(len(chans) - 1, 0, -1))
        self.head = nn.Sequential(mlp([chans[0], chans[0]]), nn.Linear(chans[0], num_classes))

    def forward(self, features: torch.Tensor, coord: torch.Tensor | None = None) -> torch.Tensor:
        x, pos, batch = stack_points(features, coord, self.in_channels, "PointTransformerSeg")
        x = self.stem(x)
        levels, graphs = [], []
        for stage, blocks in enumerate(self.encoder):
            if stage > 0:
                x, pos, batch = self.down[stage - 1](x, pos, batch)
            with torch.no_grad():
                graphs.append(knn_graph(pos, self.neighbors[stage], batch, loop=True))
            for block in blocks:
                x = block(x, pos, graphs[-1])
            levels.append((x, pos, batch))
        for i, (up, block) in enumerate(zip(self.up, self.decoder)):
            fine = len(levels) - 2 - i
            x = up(x, levels[fine + 1][1], levels[fine + 1][2], *levels[fine])
            x = block(x, levels[fine][1], graphs[fine])
        return unstack_logits(self.head(x), features.shape[0])


__all__ = ["PointTransformerSeg", "PointTransformerBlock", "TransitionDown", "TransitionUp"]
