"""Sampling and grouping ops for point clouds, batched, on CPU and CUDA tensors.

- :mod:`pcseg.ops.sampling`: farthest point sampling ``fps``, ``gather_points``;
- :mod:`pcseg.ops.neighbors`: ``knn``, the A-CNN ``ring_query``, ``group``;
- :mod:`pcseg.ops.normals`: PCA normals ``estimate_normals``, ``orient_normals``;
- :mod:`pcseg.ops.ordering`: counter-clockwise ring ordering ``ring_order``, ``order_neighbors``;
- :mod:`pcseg.ops.interpolate`: 3-NN inverse-distance interpolation (PointNet++ feature propagation).

FPS and the neighbour searches run compiled numba kd-tree kernels for CPU tensors (:mod:`pcseg.ops._kernels`,
compiled on first use and cached on disk) and pure PyTorch otherwise; ``backend="torch"`` forces the
fallback. Both give identical results. ``tools/bench_ops.py`` compares them with Open3D, fpsample and SciPy.
"""

from pcseg.ops.interpolate import three_nn_interpolate, three_nn_weights
from pcseg.ops.neighbors import group, knn, ring_query
from pcseg.ops.normals import estimate_normals, orient_normals
from pcseg.ops.ordering import order_neighbors, ring_order
from pcseg.ops.sampling import fps, gather_points

__all__ = ["fps", "gather_points", "knn", "ring_query", "group", "estimate_normals", "orient_normals",
           "ring_order", "order_neighbors", "three_nn_weights", "three_nn_interpolate"]
