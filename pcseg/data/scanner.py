"""A simulated indoor scanner: sample a synthetic room as a tripod scanner sees it (Open3D ray casting).

S3DIS was captured with Matterport cameras: a tripod-mounted rig that turns on the spot and records depth
and colour over nearly the whole sphere from each of several positions per room, and the room's cloud is the
union of those scans (Armeni et al., "3D Semantic Parsing of Large-Scale Indoor Spaces", CVPR 2016, sec. 3).
What follows from that, and what this module reproduces, unlike uniform surface sampling:

* occlusion: only surfaces in the line of sight of some scanner position get points (shadows behind chairs,
  under tables, inside bookcases; the floor under furniture is empty);
* density falls with distance (rays spread with the square of the range) and with grazing incidence;
* range noise grows with distance (a raw depth frame: a few mm near, ~1 cm at 5 m; less after fusion, below);
* colour comes from photographs: shading by the room's lights, a different exposure and white balance per
  scan position, and camera noise, so one material shows many colours across a room;
* the cloud is the fused reconstruction, not one raw depth frame: surfaces are smooth to a few millimetres,
  and a point's colour is the surface's texture there (smooth stains, grain and wear of the material), so
  neighbouring points share it rather than each drawing its own camera noise;
* the ceiling holds the lights: luminaires are bright patches of the ceiling, and the rest of it is lit
  by light bounced off floor and walls (and the camera's HDR capture lifts the shadows), so ceilings read
  about as bright as walls, not as dark as the unlit side of a box.

The room geometry is given as instances of parts (pcseg.data.synth_s3dis ``_Box`` / ``_Blob``); each part
becomes triangles, every ray's first hit gives the point, its class and instance.

Shapes: ``scan_room`` returns one (n_i, 6) float64 array per instance (x y z r g b, colours 0-255).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

# Matterport Pro camera on its tripod: lens centre ~1.2-1.7 m above the floor; it does not see the cone
# straight below the tripod (about 30 degrees around the nadir). Source: Matterport Pro2 specifications.
SCANNER_HEIGHT = (1.2, 1.7)
MIN_ELEVATION_DEG = -60.0
# depth noise: sigma = a + b * range (metres). A raw depth frame of an active sensor of that class has ~3 mm
# near and ~1.3 cm at 5 m (Khoshelham & Elberink, "Accuracy and Resolution of Kinect Depth Data", Sensors
# 2012: error grows with range), but S3DIS's clouds come from Matterport's reconstruction, registered and
# fused from many overlapping frames, whose planes are far flatter: ~1 mm near, ~3.5 mm at 5 m here (the real
# S3DIS room in ../shared/realdata: 0.2 mm residual of a 16-neighbour plane fit; this one measured there).
NOISE_A, NOISE_B = 0.001, 0.0005
# recessed office luminaires (2 x 4 ft troffers, 0.6 x 1.2 m), the brightest thing in a photographed room
LUMINAIRE = (0.6, 1.2)
LUMINAIRE_RGB = (252.0, 252.0, 248.0)
# light bounced off floor and walls plus the HDR capture: the darkest side of a surface keeps 55-80 % of
# its lit brightness
AMBIENT = (0.55, 0.8)
# surface texture: a smooth albedo field per material (sum of plane waves of 0.1-1.5 m wavelength), up to
# +-8 %, and what is left of the camera noise after fusing many frames (sigma 2 of 255)
TEXTURE_AMPLITUDE, TEXTURE_WAVES, CAMERA_NOISE = 0.08, 3, 2.0
# cast shadows (``scan_room(shadows=True)``): a shadow ray leaves the surface 1 cm along its normal (so it
# does not hit its own face); a light whose spot on the ceiling is taken by something hanging within 0.8 m
# below it is mounted on that. On by default since the bundled `indoor` recipe with them (and a cosine
# schedule) beat the best three-seed mean before it (README, "A cosine schedule and cast shadows").
CAST_SHADOWS, LIGHT_DROP, SHADOW_OFFSET = True, 0.8, 0.01


def _quad(origin: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.array([origin, origin + e1, origin + e1 + e2, origin + e2])
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def box_mesh(lo: np.ndarray, hi: np.ndarray, faces: Sequence[tuple[int, int]],
             holes: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of the listed faces of an axis-aligned box; rectangular ``holes`` (boxes) are cut out of
    the faces by splitting each face into a grid of cells at the hole edges and leaving out the cells
    inside a hole.

    Shapes: -> vertices (V, 3) float64, triangles (T, 3) int64.
    """
    verts, tris = [], []
    count = 0
    for axis, side in faces:
        a1, a2 = (axis + 1) % 3, (axis + 2) % 3
        c = hi[axis] if side else lo[axis]
        b1 = {lo[a1], hi[a1]}
        b2 = {lo[a2], hi[a2]}
        for hlo, hhi in holes:
            b1.update(np.clip([hlo[a1], hhi[a1]], lo[a1], hi[a1]).tolist())
            b2.update(np.clip([hlo[a2], hhi[a2]], lo[a2], hi[a2]).tolist())
        s1, s2 = sorted(b1), sorted(b2)
        for i in range(len(s1) - 1):
            for j in range(len(s2) - 1):
                if s1[i + 1] - s1[i] < 1e-9 or s2[j + 1] - s2[j] < 1e-9:
                    continue
                mid1, mid2 = (s1[i] + s1[i + 1]) / 2, (s2[j] + s2[j + 1]) / 2
                if any(hlo[a1] < mid1 < hhi[a1] and hlo[a2] < mid2 < hhi[a2] for hlo, hhi in holes):
                    continue
                o = np.zeros(3)
                o[axis], o[a1], o[a2] = c, s1[i], s2[j]
                e1, e2 = np.zeros(3), np.zeros(3)
                e1[a1], e2[a2] = s1[i + 1] - s1[i], s2[j + 1] - s2[j]
                v, t = _quad(o, e1, e2)
                verts.append(v)
                tris.append(t + count)
                count += 4
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    return np.concatenate(verts), np.concatenate(tris)


def ellipsoid_mesh(center: np.ndarray, radii: np.ndarray, rings: int = 8, segments: int = 12
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A UV-sphere ellipsoid. Shapes: -> vertices (V, 3), triangles (T, 3) int64."""
    theta = np.linspace(0, np.pi, rings + 1)
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    unit = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=-1).reshape(-1, 3)
    verts = center + unit * radii
    tris = []
    for r in range(rings):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            c, d = a + segments, b + segments
            tris += [[a, c, b], [b, c, d]]
    return verts, np.array(tris, np.int64)


def part_mesh(part: Any) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of a synthetic room part: a box (``lo``, ``hi``, ``faces``, ``holes``) or an ellipsoid
    (``center``, ``radii``)."""
    if hasattr(part, "radii"):
        return ellipsoid_mesh(np.asarray(part.center, float), np.asarray(part.radii, float))
    return box_mesh(np.asarray(part.lo, float), np.asarray(part.hi, float), part.faces, part.holes)


def scanner_positions(size: np.ndarray, footprints: Sequence[tuple[float, float, float, float]], count: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``count`` tripod positions on free floor (not inside a furniture footprint, 0.4 m from the walls),
    spread over the room: each new one is the farthest of 12 random candidates from the ones already
    chosen, as an operator moves the rig to cover the room.

    Shapes: -> (count, 3) float64 (x, y, lens height).
    """
    w, l, _ = size
    chosen: list[np.ndarray] = []
    for _ in range(count):
        best, best_d = None, -1.0
        for _ in range(12):
            xy = np.array([rng.uniform(min(0.4, w / 2), max(w - 0.4, w / 2)),
                           rng.uniform(min(0.4, l / 2), max(l - 0.4, l / 2))])
            if any(a0 - 0.2 <= xy[0] <= a1 + 0.2 and b0 - 0.2 <= xy[1] <= b1 + 0.2
                   for a0, b0, a1, b1 in footprints):
                continue
            d = min((float(np.linalg.norm(xy - c[:2])) for c in chosen), default=1e9)
            if d > best_d:
                best, best_d = xy, d
        if best is None:   # a crowded room: stand anywhere not too near a wall
            best = np.array([rng.uniform(0.3 * w, 0.7 * w), rng.uniform(0.3 * l, 0.7 * l)])
        chosen.append(np.array([best[0], best[1], rng.uniform(*SCANNER_HEIGHT)]))
    return np.array(chosen)


def _directions(n: int, rng: np.random.Generator) -> np.ndarray:
    """n ray directions uniform over the sphere above MIN_ELEVATION_DEG."""
    zmin = np.sin(np.radians(MIN_ELEVATION_DEG))
    z = rng.uniform(zmin, 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _texture_waves(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per instance: TEXTURE_WAVES plane waves (wave vectors with 0.1-1.5 m wavelength, phases) and an
    amplitude up to TEXTURE_AMPLITUDE. Shapes: -> (count, W, 3), (count, W), (count,)."""
    dirs = rng.normal(size=(count, TEXTURE_WAVES, 3))
    dirs /= np.linalg.norm(dirs, axis=2, keepdims=True)
    k = 2 * np.pi / rng.uniform(0.1, 1.5, (count, TEXTURE_WAVES))
    return dirs * k[..., None], rng.uniform(0, 2 * np.pi, (count, TEXTURE_WAVES)), \
        rng.uniform(0, TEXTURE_AMPLITUDE, count)


def _texture(xyz: np.ndarray, inst: np.ndarray, waves: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Albedo factor of each surface point, 1 +- amplitude, smooth over the surface and the same from
    every scan position. Shapes: xyz (n, 3), inst (n,) -> (n,)."""
    kvec, phase, amp = waves
    field = np.sin(np.einsum("nd,nwd->nw", xyz, kvec[inst]) + phase[inst]).sum(axis=1) / np.sqrt(TEXTURE_WAVES)
    return 1.0 + amp[inst] * np.clip(field, -1.5, 1.5) / 1.5


def _occluded(scene: Any, points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Whether the segment from each point to ``target`` hits the scene (a shadow ray). (n, 3) -> (n,) bool."""
    import open3d as o3d

    rays = np.concatenate([points, target[None, :] - points], axis=1).astype(np.float32)
    return scene.test_occlusions(o3d.core.Tensor(rays), tfar=0.99, nthreads=1).numpy()


def _mount_lights(scene: Any, lights: np.ndarray, half: np.ndarray, origins: np.ndarray, h: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hang the drawn lights where a room has them. A light over a soffit, a beam or hung clutter is mounted
    on its underside (a surface within LIGHT_DROP below the ceiling); a light that no scan position can see
    (drawn over the block that cuts a corner off an L-shaped room) is dropped, and a room left without one
    gets a light over its first scan position. Returns the lights, their luminaires' half sizes, and which
    of them sit on the ceiling itself (those draw a luminaire patch there).

    Shapes: (k, 3) lights, (k, 2) half, (m, 3) origins -> (k', 3), (k', 2) float64, (k',) bool.
    """
    import open3d as o3d

    k = len(lights)
    down = np.column_stack([lights[:, :2], np.full(k, h - 0.01), np.tile([0.0, 0.0, -1.0], (k, 1))])
    t = scene.cast_rays(o3d.core.Tensor(down.astype(np.float32)), nthreads=1)["t_hit"].numpy()
    lowered = t < LIGHT_DROP
    lights = lights.copy()
    lights[lowered, 2] = h - 0.01 - t[lowered] - 0.05
    seen = np.array([not _occluded(scene, origins, light).all() for light in lights], dtype=bool)
    if not seen.any():
        return np.array([[origins[0, 0], origins[0, 1], h - 0.05]]), half[:1], np.array([True])
    return lights[seen], half[seen], ~lowered[seen]


def scan_room(instances: Sequence[Any], size: np.ndarray, footprints: Sequence[tuple[float, float, float, float]],
              points: int, rng: np.random.Generator, scans: int | None = None, shadows: bool = CAST_SHADOWS
              ) -> list[np.ndarray]:
    """Scan a room from several positions; about ``points`` points in all (rays that leave the room through
    an opening are lost).

    ``instances`` have ``parts`` and ``color`` ((3,) base colour 0-255). Lighting: 1-4 ceiling lights,
    Lambert shading with ambient (bounced) light, luminaires on the ceiling; each scan position has its own
    exposure and white balance, and a surface point takes the colour seen from the nearest position. With
    ``shadows`` each light also casts shadows (a shadow ray per point and light; ``_mount_lights``).

    Shapes: -> one (n_i, 6) float64 array per instance (x y z r g b), n_i may be 0.
    """
    import open3d as o3d

    w, l, h = size
    scene = o3d.t.geometry.RaycastingScene()
    owner: dict[int, int] = {}
    for i, inst in enumerate(instances):
        for part in inst.parts:
            v, t = part_mesh(part)
            if len(t) == 0:
                continue
            gid = scene.add_triangles(o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(t.astype(np.uint32)))
            owner[int(gid)] = i
    lookup = np.full(max(owner) + 2, -1, np.int64)
    for gid, i in owner.items():
        lookup[gid] = i
    area = w * l
    if scans is None:   # about one position per 12 m^2 of floor, 2 to 5 (S3DIS rooms: several scans each)
        scans = int(np.clip(round(area / 12.0) + 1, 2, 5))
    origins = scanner_positions(size, footprints, scans, rng)
    lights = np.column_stack([rng.uniform(0.2 * w, 0.8 * w, 4), rng.uniform(0.2 * l, 0.8 * l, 4),
                              np.full(4, h - 0.05)])[: int(rng.integers(1, 5))]
    along_x = rng.random(len(lights)) < 0.5
    half = np.where(along_x[:, None], [LUMINAIRE[1] / 2, LUMINAIRE[0] / 2], [LUMINAIRE[0] / 2, LUMINAIRE[1] / 2])
    on_ceiling = np.ones(len(lights), dtype=bool)
    if shadows:
        lights, half, on_ceiling = _mount_lights(scene, lights, half, origins, h)
    ambient = rng.uniform(*AMBIENT)
    exposures, balances = rng.uniform(0.8, 1.2, len(origins)), rng.uniform(0.92, 1.08, (len(origins), 3))
    texture = _texture_waves(len(instances), rng)
    per_scan = int(points / scans * 1.1) + 1
    colors = np.array([inst.color for inst in instances], dtype=np.float64)
    out: list[list[np.ndarray]] = [[] for _ in instances]
    for origin in origins:
        d = _directions(per_scan, rng)
        rays = np.concatenate([np.broadcast_to(origin, d.shape), d], axis=1).astype(np.float32)
        hit = scene.cast_rays(o3d.core.Tensor(rays), nthreads=1)
        t = hit["t_hit"].numpy().astype(np.float64)
        ok = np.isfinite(t) & (t > 0.05)
        if not ok.any():
            continue
        t, d = t[ok], d[ok]
        inst = lookup[hit["geometry_ids"].numpy().astype(np.int64)[ok]]
        normal = hit["primitive_normals"].numpy().astype(np.float64)[ok]
        normal *= -np.sign(np.sum(normal * d, axis=1, keepdims=True) + 1e-12)   # face the scanner
        surface = origin + d * t[:, None]
        t_noisy = t + rng.normal(0, 1, len(t)) * (NOISE_A + NOISE_B * t)
        xyz = origin + d * t_noisy[:, None]
        # lighting: ambient + Lambert from the ceiling lights (inverse-square falloff, softened), and each
        # light's cast shadows: a point that cannot see the light gets only the ambient part from it
        diffuse = np.zeros(len(t))
        lift = surface + normal * SHADOW_OFFSET if shadows else None
        for light in lights:
            to_light = light - xyz
            dist = np.linalg.norm(to_light, axis=1) + 1e-6
            lit = ~_occluded(scene, lift, light) if shadows else 1.0
            diffuse += lit * np.clip(np.sum(normal * to_light, axis=1) / dist, 0, 1) / (1 + 0.08 * dist ** 2)
        shade = ambient + (1 - ambient) * np.clip(diffuse / max(len(lights), 1) * 1.6, 0, 1.2)
        # the texture: each surface point is coloured from the photograph of the nearest scan position (its
        # exposure and white balance), so exposure changes patch by patch, not point by point
        nearest = np.argmin(np.linalg.norm(surface[:, None, :] - origins[None], axis=2), axis=1)
        exposure, balance = exposures[nearest], balances[nearest]
        albedo = colors[inst] * _texture(surface, inst, texture)[:, None]
        lamp = (normal[:, 2] < -0.9) & (surface[:, 2] > h - 0.02)
        lamp &= np.any(np.all(np.abs(surface[:, None, :2] - lights[None, :, :2]) <= half[None], axis=2)
                       & on_ceiling[None], axis=1)
        rgb = albedo * (shade * exposure)[:, None] * balance
        rgb[lamp] = LUMINAIRE_RGB   # the lamp is the light: near-white in every exposure and white balance
        rgb += rng.normal(0, CAMERA_NOISE, rgb.shape)
        rows = np.column_stack([xyz, np.clip(np.rint(rgb), 0, 255)])
        order = np.argsort(inst, kind="stable")
        bounds = np.searchsorted(inst[order], np.arange(len(instances) + 1))
        for i in range(len(instances)):
            if bounds[i + 1] > bounds[i]:
                out[i].append(rows[order[bounds[i]:bounds[i + 1]]])
    return [np.concatenate(parts) if parts else np.zeros((0, 6)) for parts in out]


__all__ = ["scan_room", "box_mesh", "ellipsoid_mesh", "part_mesh", "scanner_positions"]
