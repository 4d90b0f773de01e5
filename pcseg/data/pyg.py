"""pcseg's S3DIS cache blocks as PyTorch Geometric ``Data`` samples, for a PyG user's own training loop.

``PygBlocks`` wraps :class:`pcseg.data.blocks.BlockDataset` (the PointNet block protocol: 1 m columns,
``num_points`` sampled per block, seeded by (seed, epoch, index)) and hands each block out as
``Data(pos, x, y)``; ``torch_geometric.loader.DataLoader`` stacks them with a ``batch`` vector::

    from torch_geometric.loader import DataLoader
    from pcseg.data.pyg import PygBlocks
    from pcseg.ops.pyg import knn_graph            # PyG's graph ops without pyg-lib

    loader = DataLoader(PygBlocks("data/s3dis_cache", areas=[1, 2, 3, 4, 6]), batch_size=16, shuffle=True)
    for data in loader:
        edge_index = knn_graph(data.pos, 16, data.batch)
        ...

torch_geometric is imported when a sample is made, not with this module.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np


class PygBlocks:
    """Training blocks of the prepared S3DIS cache as PyG ``Data`` (a map-style dataset).

    Args:
        root: the cache folder (``pcseg prepare s3dis RAW OUT``).
        areas: areas to draw blocks from (numbers).
        block_size, stride, num_points, min_points, features, seed: as :class:`BlockDataset`.
        transform: a callable applied to each ``Data`` (PyG's ``transform``), or None.

    Shapes: item -> Data(pos (num_points, 3) float32 block-local metres, x (num_points, C) float32 the
    ``features`` channels, y (num_points,) int64 class indices, -1 = ignore).
    """

    def __init__(self, root: str | os.PathLike, areas: Sequence[int], block_size: float = 1.0,
                 stride: float = 0.5, num_points: int = 4096, min_points: int = 100,
                 features: Sequence[str] = ("xyz", "rgb", "xyz_norm"), seed: int = 0,
                 transform: Callable[[Any], Any] | None = None) -> None:
        from pcseg.data.blocks import BlockDataset
        from pcseg.data.s3dis import S3DISCache
        from pcseg.errors import PcsegError

        cache = S3DISCache(root)
        refs = cache.rooms(list(areas))
        if not refs:
            raise PcsegError(root, f"no prepared rooms in areas {list(areas)}")
        self.blocks = BlockDataset([cache.load(ref) for ref in refs], block_size=block_size, stride=stride,
                                   num_points=num_points, min_points=min_points, features=features, seed=seed)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.blocks)

    def set_epoch(self, epoch: int) -> None:
        """Draw each block's points afresh for ``epoch`` (as BlockDataset.set_epoch)."""
        self.blocks.set_epoch(epoch)

    def __getitem__(self, i: int):
        import torch
        from torch_geometric.data import Data

        item = self.blocks[i]
        data = Data(pos=torch.from_numpy(np.ascontiguousarray(item["coord"])),
                    x=torch.from_numpy(np.ascontiguousarray(item["features"].T)),
                    y=torch.from_numpy(np.ascontiguousarray(item["label"])))
        return self.transform(data) if self.transform is not None else data

    def __repr__(self) -> str:
        return f"PygBlocks({len(self)} blocks, {self.blocks.num_points} points, features={list(self.blocks.features)})"


__all__ = ["PygBlocks"]
