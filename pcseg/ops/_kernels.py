"""Compiled CPU kernels for pcseg.ops: a balanced kd-tree, tree-accelerated farthest point sampling
(QuickFPS-style bucket pruning) and kd-tree k-nearest / annular (ring) neighbour search.

Numba-JITted (``nopython``, ``nogil``, cached on disk), so the public ops in :mod:`pcseg.ops.sampling` and
:mod:`pcseg.ops.neighbors` run one batch item (or one chunk of queries) per thread with the GIL released.
Importing this module imports numba; the public ops import it lazily and fall back to pure PyTorch when it
is missing.

Every distance is a float32 squared Euclidean distance computed as ``dx*dx + dy*dy + dz*dz`` in that order,
exactly as the PyTorch fallback computes it, and ties are broken towards the smaller point index, so both
backends return bit-identical indices (the tests check this).

Algorithms (own implementations, written from the descriptions):
- kd-tree: implicit, complete binary tree in heap order; every internal node splits its points at the count
  median (quickselect) along the longest side of its bounding box, so all leaves sit at one depth and hold
  between ``leaf_size / 2`` and ``leaf_size`` points. Point coordinates are permuted into leaf order.
- FPS: vanilla FPS (Eldar et al. 1997; PointNet++ sampling) gives the same samples as this version, which
  keeps, per tree node, the largest "distance to the selected set" below it. After a new sample ``s`` only
  nodes whose box is closer to ``s`` than that largest distance can change (Han et al., "QuickFPS",
  IEEE TCAD 2023, bucket pruning), so late iterations touch a few leaves instead of all N points.
- kNN / ring: depth-first kd-tree search with a sorted k-buffer; boxes farther than the current k-th
  distance (or the outer ring radius) and boxes entirely inside the inner ring radius are pruned.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_INF = np.float32(np.inf)


@njit(cache=True, nogil=True)
def tree_depth(n: int, leaf_size: int) -> int:
    """Smallest depth D with ceil(n / 2**D) <= leaf_size."""
    depth = 0
    while (n + (1 << depth) - 1) >> depth > leaf_size:
        depth += 1
    return depth


@njit(cache=True, nogil=True)
def _select(pts, perm, lo, hi, kth, axis):
    """Quickselect on rows [lo, hi) of ``pts`` (and ``perm``) so that row ``kth`` holds the value of that
    rank along ``axis``, rows before it are <= and rows after it are >=. Median-of-three Hoare partition."""
    left = lo
    right = hi - 1
    while right > left:
        mid = (left + right) >> 1
        a = pts[left, axis]
        b = pts[mid, axis]
        c = pts[right, axis]
        if a < b:
            if b < c:
                pivot = b
            elif a < c:
                pivot = c
            else:
                pivot = a
        else:
            if a < c:
                pivot = a
            elif b < c:
                pivot = c
            else:
                pivot = b
        i = left
        j = right
        while i <= j:
            while pts[i, axis] < pivot:
                i += 1
            while pts[j, axis] > pivot:
                j -= 1
            if i <= j:
                for d in range(3):
                    t = pts[i, d]
                    pts[i, d] = pts[j, d]
                    pts[j, d] = t
                ti = perm[i]
                perm[i] = perm[j]
                perm[j] = ti
                i += 1
                j -= 1
        if kth <= j:
            right = j
        elif kth >= i:
            left = i
        else:
            break


_NBINS = 128            # histogram bins of the median split


@njit(cache=True, nogil=True)
def _bbox(pts, a, b, bmin, bmax, node):
    """Tight box of rows [a, b) of ``pts`` into bmin/bmax[node] (inf/-inf when empty)."""
    x0 = _INF
    y0 = _INF
    z0 = _INF
    x1 = -_INF
    y1 = -_INF
    z1 = -_INF
    for i in range(a, b):
        x = pts[i, 0]
        y = pts[i, 1]
        z = pts[i, 2]
        x0 = min(x0, x)
        x1 = max(x1, x)
        y0 = min(y0, y)
        y1 = max(y1, y)
        z0 = min(z0, z)
        z1 = max(z1, z)
    bmin[node, 0] = x0
    bmin[node, 1] = y0
    bmin[node, 2] = z0
    bmax[node, 0] = x1
    bmax[node, 1] = y1
    bmax[node, 2] = z1


@njit(cache=True, nogil=True)
def tree_layout(n, leaf_size):
    """Point ranges of the implicit tree. Shapes: -> lo, hi (2**(D+1) - 1,) int64 in heap order."""
    depth = tree_depth(n, leaf_size)
    n_nodes = (1 << (depth + 1)) - 1
    lo = np.zeros(n_nodes, np.int64)
    hi = np.zeros(n_nodes, np.int64)
    hi[0] = n
    for node in range((1 << depth) - 1):
        a = lo[node]
        b = hi[node]
        mid = a + (b - a) // 2
        lo[2 * node + 1] = a
        hi[2 * node + 1] = mid
        lo[2 * node + 2] = mid
        hi[2 * node + 2] = b
    return lo, hi


@njit(cache=True, nogil=True)
def split_levels(pts, perm, buf, pbuf, lo, hi, bmin, bmax, root, level0, level1):
    """Split the subtree under ``root`` (a node of level ``level0``, box already set) down to ``level1``.

    Each level moves the rows of every node of that level from ``pts``/``perm`` into ``buf``/``pbuf``
    (then the roles swap), ordered so that the node's median along the longest side of its box sits at
    the split: a 128-bin histogram finds the bin holding the median, one branch-free pass scatters the
    rows below / inside / above that bin, and a quickselect inside the bin finishes the exact median.
    The children's tight boxes are then computed. Subtrees are disjoint, so two calls on different
    subtrees may run in parallel. After an odd number of levels the result is in ``buf``/``pbuf``.
    """
    hist = np.empty(_NBINS, np.int64)
    src = pts
    dst = buf
    psrc = perm
    pdst = pbuf
    for level in range(level0, level1):
        first = ((root + 1) << (level - level0)) - 1
        last = ((root + 2) << (level - level0)) - 1
        for node in range(first, last):
            a = lo[node]
            b = hi[node]
            mid = hi[2 * node + 1]
            axis = 0
            ext = bmax[node, 0] - bmin[node, 0]
            for d in range(1, 3):
                e = bmax[node, d] - bmin[node, d]
                if e > ext:
                    ext = e
                    axis = d
            if ext > 0:
                base = bmin[node, axis]
                scale = np.float32(_NBINS) / ext
                hist[:] = 0
                for i in range(a, b):
                    hist[min(np.int64((src[i, axis] - base) * scale), _NBINS - 1)] += 1
                acc = a
                kb = 0
                while acc + hist[kb] <= mid:
                    acc += hist[kb]
                    kb += 1
                c_lo = a
                c_mid = acc
                c_hi = acc + hist[kb]
                for i in range(a, b):
                    k = min(np.int64((src[i, axis] - base) * scale), _NBINS - 1)
                    below = np.int64(k < kb)
                    above = np.int64(k > kb)
                    inside = 1 - below - above
                    j = below * c_lo + above * c_hi + inside * c_mid
                    c_lo += below
                    c_hi += above
                    c_mid += inside
                    dst[j, 0] = src[i, 0]
                    dst[j, 1] = src[i, 1]
                    dst[j, 2] = src[i, 2]
                    pdst[j] = psrc[i]
                if hist[kb] > 1:
                    _select(dst, pdst, acc, acc + hist[kb], mid, axis)
            else:
                for i in range(a, b):
                    dst[i, 0] = src[i, 0]
                    dst[i, 1] = src[i, 1]
                    dst[i, 2] = src[i, 2]
                    pdst[i] = psrc[i]
            _bbox(dst, a, mid, bmin, bmax, 2 * node + 1)
            _bbox(dst, mid, b, bmin, bmax, 2 * node + 2)
        src, dst = dst, src
        psrc, pdst = pdst, psrc


@njit(cache=True, nogil=True)
def build_tree(points, leaf_size):
    """Build the implicit kd-tree in one thread (:func:`build` splits the work over threads).

    Shapes: points (N, 3) float32 -> pts (N, 3) float32 in leaf order, perm (N,) int64 (pts[i] is
    points[perm[i]]), lo/hi (nodes,) int64 point ranges, bmin/bmax (nodes, 3) float32 tight boxes; nodes =
    2**(D+1) - 1 in heap order (children of i are 2i+1, 2i+2), leaves are the last 2**D nodes.
    """
    n = points.shape[0]
    lo, hi = tree_layout(n, leaf_size)
    n_nodes = lo.shape[0]
    depth = tree_depth(n, leaf_size)
    bmin = np.empty((n_nodes, 3), np.float32)
    bmax = np.empty((n_nodes, 3), np.float32)
    pts = points.copy()
    perm = np.arange(n)
    buf = np.empty_like(pts)
    pbuf = np.empty(n, np.int64)
    _bbox(pts, 0, n, bmin, bmax, 0)
    split_levels(pts, perm, buf, pbuf, lo, hi, bmin, bmax, 0, 0, depth)
    if depth % 2 == 1:
        return buf, pbuf, lo, hi, bmin, bmax
    return pts, perm, lo, hi, bmin, bmax


@njit(cache=True, nogil=True)
def _box_lower2(bmin, bmax, node, x, y, z):
    """Squared distance from (x, y, z) to the box of ``node`` (0 inside). Each term is rounded exactly like
    a point distance, so it never exceeds the float32 distance of any point in the box."""
    g = np.float32(0.0)
    if x < bmin[node, 0]:
        g = bmin[node, 0] - x
    elif x > bmax[node, 0]:
        g = x - bmax[node, 0]
    s = g * g
    g = np.float32(0.0)
    if y < bmin[node, 1]:
        g = bmin[node, 1] - y
    elif y > bmax[node, 1]:
        g = y - bmax[node, 1]
    s = s + g * g
    g = np.float32(0.0)
    if z < bmin[node, 2]:
        g = bmin[node, 2] - z
    elif z > bmax[node, 2]:
        g = z - bmax[node, 2]
    return s + g * g


@njit(cache=True, nogil=True)
def _box_upper2(bmin, bmax, node, x, y, z):
    """Squared distance from (x, y, z) to the farthest corner of the box of ``node``."""
    a = abs(x - bmin[node, 0])
    b = abs(x - bmax[node, 0])
    g = a if a > b else b
    s = g * g
    a = abs(y - bmin[node, 1])
    b = abs(y - bmax[node, 1])
    g = a if a > b else b
    s = s + g * g
    a = abs(z - bmin[node, 2])
    b = abs(z - bmax[node, 2])
    g = a if a > b else b
    return s + g * g


def build(points: np.ndarray, leaf_size: int, threads: int = 1):
    """:func:`build_tree`, with the two halves of large clouds split in two threads (same result)."""
    n = points.shape[0]
    depth = tree_depth(n, leaf_size)
    if threads < 2 or depth < 2 or n < (1 << 15):
        return build_tree(points, leaf_size)
    from pcseg.ops._threads import parallel_map

    lo, hi = tree_layout(n, leaf_size)
    bmin = np.empty((lo.shape[0], 3), np.float32)
    bmax = np.empty((lo.shape[0], 3), np.float32)
    pts = np.ascontiguousarray(points, dtype=np.float32).copy()
    perm = np.arange(n)
    buf = np.empty_like(pts)
    pbuf = np.empty(n, np.int64)
    _bbox(pts, 0, n, bmin, bmax, 0)
    split_levels(pts, perm, buf, pbuf, lo, hi, bmin, bmax, 0, 0, 1)
    parallel_map(lambda root: split_levels(buf, pbuf, pts, perm, lo, hi, bmin, bmax, root, 1, depth), (1, 2),
                 threads)
    if depth % 2 == 1:
        return buf, pbuf, lo, hi, bmin, bmax
    return pts, perm, lo, hi, bmin, bmax


@njit(cache=True, nogil=True, fastmath={"nnan", "nsz"})
def _leaf_update(xs, ys, zs, dist, a, b, x, y, z):
    """dist[j] = min(dist[j], |p_j - s|^2) over rows [a, b); returns the new max (vectorises; the
    fastmath flags allow the max reduction only, no reassociation or FMA, so the arithmetic is exact)."""
    best = np.float32(-2.0)
    for j in range(a, b):
        dx = xs[j] - x
        dy = ys[j] - y
        dz = zs[j] - z
        d = dx * dx + dy * dy + dz * dz
        dj = dist[j]
        if d < dj:
            dj = d
        dist[j] = dj
        if dj > best:
            best = dj
    return best


@njit(cache=True, nogil=True)
def _leaf_argmax(dist, perm, a, b, best):
    """Smallest original index among rows [a, b) whose dist equals ``best``."""
    arg = perm.shape[0]
    for j in range(a, b):
        if dist[j] == best and perm[j] < arg:
            arg = perm[j]
    return arg


@njit(cache=True, nogil=True)
def fps_on_tree(pts, perm, lo, hi, bmin, bmax, m, start):
    """Farthest point sampling on a built tree; identical output to the vanilla O(N m) loop
    (:func:`fps_vanilla`): per point the squared distance to the selected set, selected points marked -1
    (duplicates are taken only after every distinct position), the first maximum picked next.

    Shapes: tree of N points, m <= N, 0 <= start < N -> (m,) int64 indices into the original points.
    """
    n = pts.shape[0]
    n_nodes = lo.shape[0]
    first_leaf = (n_nodes - 1) // 2
    xs = pts[:, 0].copy()
    ys = pts[:, 1].copy()
    zs = pts[:, 2].copy()
    inv = np.empty(n, np.int64)
    for i in range(n):
        inv[perm[i]] = i
    dist = np.full(n, _INF, np.float32)
    node_max = np.full(n_nodes, _INF, np.float32)
    node_arg = np.zeros(n_nodes, np.int64)     # original index of the node's max (smallest on ties)
    out = np.empty(m, np.int64)
    stack = np.empty(128, np.int64)
    visited = np.empty(n_nodes, np.int64)
    s = start
    for it in range(m):
        out[it] = s
        pos = inv[s]
        x = xs[pos]
        y = ys[pos]
        z = zs[pos]
        dist[pos] = -1.0
        top = 0
        stack[0] = 0
        n_vis = 0
        while top >= 0:
            node = stack[top]
            top -= 1
            contains = lo[node] <= pos and pos < hi[node]
            # a node whose box is at least its largest distance away cannot change (exact in float32)
            if not contains and node_max[node] <= _box_lower2(bmin, bmax, node, x, y, z):
                continue
            if node >= first_leaf:
                best = _leaf_update(xs, ys, zs, dist, lo[node], hi[node], x, y, z)
                node_max[node] = best
                node_arg[node] = _leaf_argmax(dist, perm, lo[node], hi[node], best)
            else:
                visited[n_vis] = node
                n_vis += 1
                stack[top + 1] = 2 * node + 2
                stack[top + 2] = 2 * node + 1
                top += 2
        for v in range(n_vis - 1, -1, -1):          # reversed pre-order: children before parents
            node = visited[v]
            l = 2 * node + 1
            r = 2 * node + 2
            if node_max[r] > node_max[l] or (node_max[r] == node_max[l] and node_arg[r] < node_arg[l]):
                node_max[node] = node_max[r]
                node_arg[node] = node_arg[r]
            else:
                node_max[node] = node_max[l]
                node_arg[node] = node_arg[l]
        s = node_arg[0]
    return out


@njit(cache=True, nogil=True)
def fps_tree(points, m, start, leaf_size):
    """Build a tree and run :func:`fps_on_tree`. Shapes: points (N, 3) float32 -> (m,) int64."""
    pts, perm, lo, hi, bmin, bmax = build_tree(points, leaf_size)
    return fps_on_tree(pts, perm, lo, hi, bmin, bmax, m, start)


@njit(cache=True, nogil=True)
def fps_vanilla(points, m, start):
    """The plain O(N m) FPS loop with the same rules as :func:`fps_tree` (used by the benchmark and tests).

    Shapes: points (N, 3) float32 -> (m,) int64.
    """
    n = points.shape[0]
    dist = np.full(n, _INF, np.float32)
    out = np.empty(m, np.int64)
    s = start
    for it in range(m):
        out[it] = s
        x = points[s, 0]
        y = points[s, 1]
        z = points[s, 2]
        dist[s] = -1.0
        best = np.float32(-2.0)
        best_i = 0
        for j in range(n):
            dx = points[j, 0] - x
            dy = points[j, 1] - y
            dz = points[j, 2] - z
            d = dx * dx + dy * dy + dz * dz
            if d < dist[j]:
                dist[j] = d
            if dist[j] > best:
                best = dist[j]
                best_i = j
        s = best_i
    return out


@njit(cache=True, nogil=True)
def _search(pts, perm, lo, hi, bmin, bmax, x, y, z, k, r_in2, r_out2, out_d, out_i, stack, stack_lb):
    """k nearest points with r_in2 <= d2 < r_out2, ascending by (d2, index); returns how many were found.
    ``out_d``/``out_i`` (k,) are filled in place; unfilled slots keep inf / -1. ``stack`` (128,) int64 and
    ``stack_lb`` (128,) float32 are scratch for the depth-first walk (at most 2 entries per tree level):
    nodes and the squared distance from the query to their boxes."""
    n_nodes = lo.shape[0]
    first_leaf = (n_nodes - 1) // 2
    for j in range(k):
        out_d[j] = _INF
        out_i[j] = -1
    cnt = 0
    top = 0
    stack[0] = 0
    stack_lb[0] = _box_lower2(bmin, bmax, 0, x, y, z)
    while top >= 0:
        node = stack[top]
        lb = stack_lb[top]
        top -= 1
        if lb >= r_out2 or (cnt == k and lb > out_d[k - 1]):
            continue
        if r_in2 > 0 and _box_upper2(bmin, bmax, node, x, y, z) < r_in2:
            continue
        if node >= first_leaf:
            for j in range(lo[node], hi[node]):
                dx = pts[j, 0] - x
                dy = pts[j, 1] - y
                dz = pts[j, 2] - z
                d = dx * dx + dy * dy + dz * dz
                if d < r_in2 or d >= r_out2:
                    continue
                if cnt == k and d > out_d[k - 1]:
                    continue
                pj = perm[j]
                if cnt == k and d == out_d[k - 1] and pj > out_i[k - 1]:
                    continue
                # insertion into the sorted buffer
                p = cnt if cnt < k else k - 1
                while p > 0 and (out_d[p - 1] > d or (out_d[p - 1] == d and out_i[p - 1] > pj)):
                    out_d[p] = out_d[p - 1]
                    out_i[p] = out_i[p - 1]
                    p -= 1
                out_d[p] = d
                out_i[p] = pj
                if cnt < k:
                    cnt += 1
        else:
            l = 2 * node + 1
            r = 2 * node + 2
            lb_l = _box_lower2(bmin, bmax, l, x, y, z)
            lb_r = _box_lower2(bmin, bmax, r, x, y, z)
            # visit the nearer child first: push it last
            if lb_l <= lb_r:
                stack[top + 1] = r
                stack_lb[top + 1] = lb_r
                stack[top + 2] = l
                stack_lb[top + 2] = lb_l
            else:
                stack[top + 1] = l
                stack_lb[top + 1] = lb_l
                stack[top + 2] = r
                stack_lb[top + 2] = lb_r
            top += 2
    return cnt


@njit(cache=True, nogil=True)
def knn_tree(tree_pts, perm, lo, hi, bmin, bmax, queries, k, out_d, out_i):
    """kNN of every query against a built tree. Missing slots (fewer than k points) get inf / -1.

    Shapes: queries (M, 3) float32 -> out_d (M, k) float32 squared distances, out_i (M, k) int64.
    """
    inf = np.float32(np.inf)
    stack = np.empty(128, np.int64)
    stack_lb = np.empty(128, np.float32)
    for q in range(queries.shape[0]):
        _search(tree_pts, perm, lo, hi, bmin, bmax, queries[q, 0], queries[q, 1], queries[q, 2], k,
                np.float32(0.0), inf, out_d[q], out_i[q], stack, stack_lb)


@njit(cache=True, nogil=True)
def ring_tree(tree_pts, perm, lo, hi, bmin, bmax, queries, k, r_in2, r_out2, out_i, out_cnt):
    """Ring query of every query against a built tree (rules in :func:`pcseg.ops.neighbors.ring_query`).

    Shapes: queries (M, 3) float32 -> out_i (M, k) int64, out_cnt (M,) int64 points found in the ring.
    """
    inf = np.float32(np.inf)
    buf_d = np.empty(k, np.float32)
    one_d = np.empty(1, np.float32)
    one_i = np.empty(1, np.int64)
    stack = np.empty(128, np.int64)
    stack_lb = np.empty(128, np.float32)
    for q in range(queries.shape[0]):
        x = queries[q, 0]
        y = queries[q, 1]
        z = queries[q, 2]
        row = out_i[q]
        cnt = _search(tree_pts, perm, lo, hi, bmin, bmax, x, y, z, k, r_in2, r_out2, buf_d, row,
                      stack, stack_lb)
        out_cnt[q] = cnt
        if cnt == 0:
            # empty ring: it grows outwards to the nearest point at d >= r_in, else the nearest point
            found = _search(tree_pts, perm, lo, hi, bmin, bmax, x, y, z, 1, r_in2, inf, one_d, one_i,
                            stack, stack_lb)
            if found == 0:
                _search(tree_pts, perm, lo, hi, bmin, bmax, x, y, z, 1, np.float32(0.0), inf, one_d, one_i,
                        stack, stack_lb)
            for j in range(k):
                row[j] = one_i[0]
        else:
            for j in range(cnt, k):
                row[j] = row[0]


@njit(cache=True, nogil=True)
def compact_slots(idx, count, first_row, rows, cols):
    """The first ``count[q]`` slots of every row of ``idx`` as (row, index) pairs, in row order
    (pcseg.ops.pyg's edge lists from a capped radius search). ``rows`` / ``cols`` hold ``count.sum()``."""
    e = 0
    for q in range(idx.shape[0]):
        for j in range(count[q]):
            rows[e] = first_row + q
            cols[e] = idx[q, j]
            e += 1
