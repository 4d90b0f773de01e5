"""Procedural indoor rooms written in the exact raw S3DIS layout (``pcseg synth s3dis OUT``).

Layout (as the Stanford release, Armeni et al., CVPR 2016)::

    OUT/Stanford3dDataset_v1.2_Aligned_Version/Area_N/<room>/<room>.txt           all points of the room
    OUT/Stanford3dDataset_v1.2_Aligned_Version/Area_N/<room>/Annotations/<class>_<i>.txt   one per instance

Every line is ``x y z r g b`` written as ``%.3f %.3f %.3f %d %d %d`` (metres, colours 0-255). Rooms are
named like the real ones (office_1, conferenceRoom_1, hallway_2 ...) and sit at area coordinates (not at the
origin), as in the aligned release.

A room is an axis-aligned box (3-8 m x 3-8 m x 2.6-3.2 m; hallways are narrow and long) with a planar
ceiling, floor and four walls; doors, windows and boards are thin slabs 1-3 cm in front of the wall with the
wall left open behind them; beams run under the ceiling, columns stand at walls or corners; tables (top and
legs), chairs (seat, back, legs), sofas (base, back, arms) and bookcases (open box with shelves) stand on
the floor without overlapping; clutter (small boxes and blobs) lies on tables and on the floor. Every room
gets at least one instance of each of the 13 classes. Surfaces are sampled like a scan: uniform density per
square metre, gaussian noise (sigma 5 mm), faces hidden against the floor, ceiling or walls are not sampled.
Colours come from per-class base colours with per-instance and per-point variation plus face shading; the
greys of wall / ceiling / board / column / beam overlap, as do the browns of table / bookcase / door, so
colour alone does not separate the classes. Scanned rooms (``--style scan``) also get clutter hung on the
walls and under the ceiling, some an L-shaped floor plan (``_Room.add_corner``), about a third a lowered
part of the ceiling (a soffit, labelled ceiling: ``_Room.add_soffit``), about a third services run along
the top of a wall (cable trays, trunking, ducts, labelled clutter: ``_Room.add_wall_run``), and half their
doors stand open (the frame running through the wall, the leaf swung into the room or out of sight:
``_Room.open_door``).

Deterministic: room k of area a uses ``numpy.random.default_rng([seed, a, k])``, so the same arguments give
byte-identical files (and adding rooms or areas does not change the others).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from pcseg.errors import PcsegError

ALIGNED = "Stanford3dDataset_v1.2_Aligned_Version"
DEFAULT_AREAS = (1, 5)
DEFAULT_ROOMS = 3
DEFAULT_POINTS = 100_000
NOISE_SIGMA = 0.005   # metres; matches the ~5 mm range noise of the Matterport scanner used for S3DIS
STYLES = ("surface", "scan")   # uniform surface sampling (fast) | scanner simulation (pcseg.data.scanner)
SOFFIT_SHARE = 0.35   # scanned rooms with a lowered part of the ceiling (_Room.add_soffit)
# scanned rooms with services run along the top of a wall (_Room.add_wall_run): cable trays, trunking and ducts
# fixed to the wall just under the ceiling, along most of its length. Offices and their corridors carry their
# cables and air this way (a cable tray's width is 50-600 mm and its side 50-150 mm high, BS EN 61537 /
# NEMA VE 1 sizes; surface trunking 25-150 mm), and S3DIS labels such fittings clutter. The share is a
# modelling choice, not a measured one.
WALL_RUN_SHARE = 0.35
# scanned rooms' doors that stand open (_Room.open_door): an open doorway shows its frame running through the
# wall (S3DIS labels the frame door, and the open leaf where it is seen) and no leaf in the wall plane. Offices
# keep doors open and closed alike; half and half is a modelling choice, not a measured share.
OPEN_DOOR_SHARE = 0.5
# interior wall thickness, and so the depth of an open door's jambs: a stud partition (89 mm studs with a
# 12.5 mm gypsum board each side, about 0.115 m) up to a 0.2 m block wall
WALL_THICKNESS = (0.1, 0.2)
ROOM_TYPES = ("office", "conferenceRoom", "hallway", "lounge", "office", "storage", "pantry", "copyRoom")
# S3DIS's class shares (share of all points per class over its six areas): the per-class point counts that
# RandLA-Net (helper_tool.py, get_class_weights) and Open3D-ML (ml3d/datasets/s3dis.py, class_weights) list
# for S3DIS, normalised. `python tools/class_shares.py indoor` prints the generator's shares beside them.
# Furnishing scanned rooms towards these (desks, cabinets, full shelves: clutter 3.5 -> 10.9 %) was tried
# and lowered the real-room score (README, "Bundled models"), so the rooms keep their furnishing.
S3DIS_SHARES = {"ceiling": 0.1811, "floor": 0.1535, "wall": 0.2643, "beam": 0.0171, "column": 0.0202,
                "window": 0.0257, "door": 0.0524, "table": 0.0350, "chair": 0.0425, "sofa": 0.0048,
                "bookcase": 0.0690, "board": 0.0123, "clutter": 0.1221}

# base colours (0-255) per class: a list of alternatives, one chosen per instance
_COLORS: dict[str, list[tuple[int, int, int]]] = {
    "ceiling": [(196, 196, 190), (205, 203, 195)],
    "floor": [(150, 140, 125), (120, 118, 112), (165, 150, 120)],
    "wall": [(192, 192, 186), (200, 196, 184), (178, 182, 180)],
    "beam": [(190, 190, 184), (182, 180, 172)],
    "column": [(186, 186, 180), (196, 192, 182)],
    "window": [(165, 178, 190), (190, 196, 200)],
    "door": [(132, 96, 62), (180, 178, 170), (110, 80, 55)],
    "table": [(140, 105, 70), (196, 192, 184), (120, 90, 60)],
    "chair": [(50, 50, 56), (62, 72, 120), (122, 92, 62), (140, 40, 40)],
    "sofa": [(120, 42, 40), (82, 82, 92), (64, 72, 112)],
    "bookcase": [(136, 100, 64), (172, 170, 164), (112, 84, 58)],
    "board": [(212, 212, 206), (196, 200, 196)],
}
# scanned rooms (style "scan") draw from wider, overlapping palettes: real rooms paint walls, doors and
# furniture in many colours, and a class is not a colour (doors are wood, painted white, grey or coloured;
# bookcases wood, metal grey, white or black; floors carpet or tile in many tones). Every class shares
# colours with other classes, so a model has to use geometry.
_SCAN_COLORS: dict[str, list[tuple[int, int, int]]] = {
    "ceiling": [(200, 200, 195), (215, 212, 205), (180, 182, 180), (225, 222, 210), (170, 165, 155)],
    "floor": [(150, 140, 125), (120, 118, 112), (165, 150, 120), (95, 100, 110), (140, 110, 80),
              (185, 180, 165), (80, 80, 82), (110, 120, 140)],
    "wall": [(192, 192, 186), (200, 196, 184), (178, 182, 180), (215, 210, 195), (170, 160, 140),
             (160, 175, 185), (205, 190, 160), (150, 150, 150), (225, 222, 215)],
    "beam": [(190, 190, 184), (182, 180, 172), (210, 206, 198), (160, 158, 150)],
    "column": [(186, 186, 180), (196, 192, 182), (170, 165, 155), (210, 205, 195)],
    "window": [(165, 178, 190), (190, 196, 200), (120, 130, 140), (220, 225, 228), (90, 100, 105)],
    "door": [(132, 96, 62), (180, 178, 170), (110, 80, 55), (160, 120, 80), (200, 198, 190), (90, 95, 105),
             (150, 60, 50), (70, 90, 130), (175, 140, 95)],
    "table": [(140, 105, 70), (196, 192, 184), (120, 90, 60), (60, 60, 62), (170, 140, 100), (210, 210, 205)],
    "chair": [(50, 50, 56), (62, 72, 120), (122, 92, 62), (140, 40, 40), (150, 150, 150), (90, 110, 80)],
    "sofa": [(120, 42, 40), (82, 82, 92), (64, 72, 112), (150, 130, 100), (60, 60, 60)],
    "bookcase": [(136, 100, 64), (172, 170, 164), (112, 84, 58), (60, 60, 62), (200, 198, 190),
                 (150, 150, 155)],
    "board": [(212, 212, 206), (196, 200, 196), (60, 80, 70), (230, 230, 225)],
}
# faces of a box: (axis, side) with side 0 = the low face, 1 = the high face
_FACES = tuple((axis, side) for axis in range(3) for side in range(2))


@dataclass
class _Box:
    """An axis-aligned box whose listed faces are sampled (all six unless said otherwise)."""

    lo: np.ndarray
    hi: np.ndarray
    faces: tuple[tuple[int, int], ...] = _FACES
    holes: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)   # boxes cut out of the faces

    def face_areas(self) -> np.ndarray:
        ext = self.hi - self.lo
        return np.array([ext[(a + 1) % 3] * ext[(a + 2) % 3] for a, _ in self.faces], dtype=np.float64)

    def area(self) -> float:
        total = float(self.face_areas().sum())
        for lo, hi in self.holes:   # holes are only cut out of single-face parts (walls)
            ext = np.clip(np.minimum(hi, self.hi) - np.maximum(lo, self.lo), 0, None)
            a = self.faces[0][0]
            total -= ext[(a + 1) % 3] * ext[(a + 2) % 3]
        return max(total, 0.0)


@dataclass
class _Blob:
    """An ellipsoid surface (clutter)."""

    center: np.ndarray
    radii: np.ndarray

    def area(self) -> float:
        # Knud Thomsen's approximation of an ellipsoid's surface area (p = 1.6075)
        a, b, c = self.radii
        p = 1.6075
        return float(4 * np.pi * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p))


@dataclass
class _Instance:
    cls: str
    parts: list
    color: np.ndarray    # (3,) float base colour 0-255


def _box(lo: Sequence[float], hi: Sequence[float], faces=_FACES, holes=None) -> _Box:
    return _Box(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64), tuple(faces),
                list(holes or []))


# ---------------------------------------------------------------------------------------------- sampling
def _sample_box(box: _Box, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points on the visible faces of ``box``; returns (points (n,3), face index (n,))."""
    areas = box.face_areas()
    counts = rng.multinomial(n, areas / areas.sum()) if areas.sum() > 0 else np.zeros(len(areas), int)
    pts, faces = [], []
    for f, ((axis, side), c) in enumerate(zip(box.faces, counts)):
        if c == 0:
            continue
        p = box.lo + rng.random((c, 3)) * (box.hi - box.lo)
        p[:, axis] = box.hi[axis] if side else box.lo[axis]
        pts.append(p)
        faces.append(np.full(c, f))
    if not pts:
        return np.zeros((0, 3)), np.zeros(0, int)
    return np.concatenate(pts), np.concatenate(faces)


def _sample_part(part, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n surface points of a part and a per-point shading factor."""
    if isinstance(part, _Blob):
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-12
        shade = 0.8 + 0.2 * np.clip(d[:, 2], 0, 1)
        return part.center + d * part.radii, shade
    if not part.holes:
        pts, face = _sample_box(part, n, rng)
    else:  # rejection sampling around the openings
        got: list[np.ndarray] = []
        have = 0
        while have < n:
            p, _ = _sample_box(part, 2 * (n - have) + 16, rng)
            inside = np.zeros(len(p), bool)
            for lo, hi in part.holes:
                inside |= np.all((p >= lo) & (p <= hi), axis=1)
            p = p[~inside]
            got.append(p)
            have += len(p)
        pts, face = np.concatenate(got)[:n], np.zeros(n, int)
    # face shading: tops are lit, sides a little darker, undersides darker still
    axis_side = np.array([a * 2 + s for a, s in part.faces])[face]
    shade = np.select([axis_side == 5, axis_side == 4], [1.0, 0.78], 0.9)
    shade = shade * (1 + rng.uniform(-0.04, 0.04, size=len(part.faces)))[face]
    return pts, shade


# ---------------------------------------------------------------------------------------------- layout
class _Room:
    """Builds the instances of one room in room coordinates (floor at z = 0, x in [0, W], y in [0, L])."""

    def __init__(self, rng: np.random.Generator, kind: str, scan: bool = False) -> None:
        self.rng = rng
        self.scan = scan   # scanned-room style: recessed openings with frames, L-shapes, hung clutter
        if kind == "hallway":
            w, l = rng.uniform(2.2, 3.0), rng.uniform(6.0, 8.0)
            if rng.random() < 0.5:
                w, l = l, w
        elif kind == "conferenceRoom":
            w, l = rng.uniform(5.0, 8.0), rng.uniform(4.5, 7.0)
        else:
            w, l = rng.uniform(3.0, 8.0), rng.uniform(3.0, 8.0)
        self.size = np.array([w, l, rng.uniform(2.6, 3.2)])
        self.kind = kind
        self.instances: list[_Instance] = []
        self.footprints: list[tuple[float, float, float, float]] = []   # occupied floor rectangles
        self.wall_spans: list[list[tuple[float, float]]] = [[] for _ in range(4)]   # used ranges per wall
        self.wall_holes: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(4)]
        # whether a door stands open, and how, is drawn from its own generator, seeded from the room's size:
        # the rest of the room is drawn as it was before doors could stand open
        self.door_rng = self.size_rng()
        self.chair_rects: list[tuple[float, float, float, float]] = []

    def size_rng(self, *salt: int) -> np.random.Generator:
        """A generator of its own for one feature, seeded by the room's size (and ``salt``), so drawing the
        feature leaves the room's main generator, and so the rest of the room, as it was without it."""
        return np.random.default_rng([*np.frombuffer(self.size.tobytes(), np.uint32), *salt])

    # colours ----------------------------------------------------------------------------------------
    def color(self, cls: str) -> np.ndarray:
        if cls == "clutter":
            base = self.rng.uniform(30, 230, size=3)
        else:
            options = (_SCAN_COLORS if self.scan else _COLORS)[cls]
            base = np.asarray(options[self.rng.integers(len(options))], dtype=np.float64)
        return np.clip(base + self.rng.normal(0, 8, size=3), 0, 255)

    def add(self, cls: str, parts: list) -> None:
        self.instances.append(_Instance(cls, parts, self.color(cls)))

    # walls -------------------------------------------------------------------------------------------
    def wall_frame(self, wall: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(origin, along-wall unit vector, inward normal, wall length) of wall 0..3 (y=0, x=W, y=L, x=0)."""
        w, l, _ = self.size
        frames = [((0, 0), (1, 0), (0, 1), w), ((w, 0), (0, 1), (-1, 0), l),
                  ((w, l), (-1, 0), (0, -1), w), ((0, l), (0, -1), (1, 0), l)]
        o, u, n, length = frames[wall]
        return np.array(o, float), np.array(u, float), np.array(n, float), float(length)

    def reserve_wall(self, wall: int, width: float, margin: float = 0.15,
                     at: float | None = None) -> tuple[float, float] | None:
        """Find a free span [u0, u0+width] along a wall (or check the given start); None when it is full."""
        _, _, _, length = self.wall_frame(wall)
        if width > length - 2 * margin:
            return None
        for _ in range(50):
            u0 = self.rng.uniform(margin, length - margin - width) if at is None else at
            if all(u0 + width + 0.1 <= a or u0 >= b + 0.1 for a, b in self.wall_spans[wall]):
                self.wall_spans[wall].append((u0, u0 + width))
                return u0, u0 + width
            if at is not None:
                return None
        return None

    def wall_rect(self, wall: int, u0: float, u1: float, z0: float, z1: float, off0: float,
                  off1: float) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box spanning [u0,u1] along the wall, [z0,z1] in height, [off0,off1] inward."""
        o, u, n, _ = self.wall_frame(wall)
        corners = [o + u * a + n * b for a in (u0, u1) for b in (off0, off1)]
        xy = np.array(corners)
        lo = np.array([*xy.min(axis=0), z0])
        hi = np.array([*xy.max(axis=0), z1])
        return lo, hi

    def floor_free(self, rect: tuple[float, float, float, float], gap: float = 0.1,
                   exclude: tuple[float, float, float, float] | None = None) -> bool:
        """True when ``rect`` lies inside the room and keeps ``gap`` from every footprint but ``exclude``."""
        x0, y0, x1, y1 = rect
        w, l, _ = self.size
        if x0 < -1e-9 or y0 < -1e-9 or x1 > w + 1e-9 or y1 > l + 1e-9:
            return False
        return all(x1 + gap <= a0 or x0 >= a1 + gap or y1 + gap <= b0 or y0 >= b1 + gap
                   for a0, b0, a1, b1 in self.footprints if (a0, b0, a1, b1) != exclude)

    def place(self, dx: float, dy: float, against_wall: bool, tries: int = 80
              ) -> tuple[float, float, float, float, int] | None:
        """A free floor rectangle of size dx x dy (swapped when backed against an x wall). Returns
        (x0, y0, x1, y1, wall) where wall is the wall it backs onto (-1 for free standing)."""
        w, l, _ = self.size
        for _ in range(tries):
            if against_wall:
                wall = int(self.rng.integers(4))
                o, u, n, length = self.wall_frame(wall)
                if dx > length - 0.2:
                    continue
                s = self.rng.uniform(0.1, length - 0.1 - dx)
                lo, hi = self.wall_rect(wall, s, s + dx, 0, 0, 0.0, dy)
                rect = (lo[0], lo[1], hi[0], hi[1])
            else:
                wall = -1
                if dx > w - 1.0 or dy > l - 1.0:
                    return None
                x0 = self.rng.uniform(0.5, w - 0.5 - dx)
                y0 = self.rng.uniform(0.5, l - 0.5 - dy)
                rect = (x0, y0, x0 + dx, y0 + dy)
            if self.floor_free(rect):
                self.footprints.append(rect)
                return (*rect, wall)
        return None

    # building ------------------------------------------------------------------------------------------
    def build(self) -> list[_Instance]:
        rng = self.rng
        w, l, h = self.size
        if self.scan and self.kind != "hallway" and rng.random() < 0.4:
            self.add_corner()
        # columns first (they take wall space), then the wall openings
        for _ in range(int(rng.integers(1, 3))):
            self.add_column()
        for _ in range(int(rng.integers(1, 3))):
            self.add_opening("door")
        for _ in range(int(rng.integers(1, 3))):
            self.add_opening("window")
        for _ in range(1 if self.kind != "conferenceRoom" else 2):
            self.add_opening("board")
        # shell
        self.add("ceiling", [_box((0, 0, h), (w, l, h), faces=[(2, 0)])])
        self.add("floor", [_box((0, 0, 0), (w, l, 0), faces=[(2, 1)])])
        for wall in range(4):
            lo, hi = self.wall_rect(wall, 0, self.wall_frame(wall)[3], 0, h, 0, 0)
            axis = 1 if wall in (0, 2) else 0
            side = 1 if wall in (0, 3) else 0   # the face that looks into the room
            self.add("wall", [_Box(lo, hi, ((axis, side),), self.wall_holes[wall])])
        for _ in range(int(rng.integers(1, 4))):
            self.add_beam()
        # furniture: big pieces first, then chairs around the tables, clutter last
        tables = [self.add_table(big=(self.kind == "conferenceRoom" and i == 0))
                  for i in range(int(rng.integers(1, 3)))]
        tables = [t for t in tables if t is not None] or [self.add_table(big=False, small_ok=True)]
        for _ in range(int(rng.integers(1, 3))):
            self.add_bookcase()
        self.add_sofa()
        for t in tables:
            if t is not None:
                self.add_chairs(t)
        self.ensure(["table", "chair", "sofa", "bookcase"])
        for t in tables:
            if t is not None:
                for _ in range(int(rng.integers(1, 4))):
                    self.add_clutter_on(t)
        for _ in range(int(rng.integers(3, 9))):
            self.add_clutter_floor()
        if self.scan:
            for _ in range(int(rng.integers(2, 7))):
                self.add_clutter_hung()
        self.ensure(["clutter"])
        if self.scan and rng.random() < SOFFIT_SHARE:
            self.add_soffit()
        if self.scan:
            self.add_wall_run()
        return self.instances

    def add_wall_run(self) -> None:
        """Services along the top of a wall (WALL_RUN_SHARE of scanned rooms; along both long walls in half the
        hallways): a cable tray, surface trunking or a duct, 0.06-0.35 m high, its top 0.03-0.45 m under the
        ceiling, standing 2-35 cm off the wall, along 60 % to all of it. Painted like the walls in half the
        rooms (then only its edges and the step off the wall set it apart), galvanised grey or any colour in
        the rest. Drawn from a generator of its own, seeded by the room's size, so the rest of the room's
        layout is drawn as it was before."""
        rrng = self.size_rng(61537)
        if rrng.random() >= WALL_RUN_SHARE:
            return
        w, l, h = self.size
        long_walls = (0, 2) if w >= l else (1, 3)
        walls = list(long_walls) if self.kind == "hallway" and rrng.random() < 0.5 else [int(rrng.integers(4))]
        pick = rrng.random()
        if pick < 0.5:
            options = _SCAN_COLORS["wall"]
            base = np.asarray(options[rrng.integers(len(options))], dtype=np.float64)
        elif pick < 0.75:
            base = np.full(3, rrng.uniform(130, 195))
        else:
            base = rrng.uniform(30, 230, size=3)
        tall = rrng.uniform(0.06, 0.35)
        top = h - rrng.uniform(0.03, 0.45)
        depth = rrng.uniform(0.02, 0.1) if rrng.random() < 0.5 else rrng.uniform(0.1, 0.35)
        for wall in walls:
            length = self.wall_frame(wall)[3]
            run = length * (1.0 if rrng.random() < 0.5 else rrng.uniform(0.6, 1.0))
            u0 = rrng.uniform(0.0, length - run)
            lo, hi = self.wall_rect(wall, u0, u0 + run, top - tall, top, 0.0, depth)
            colour = np.clip(base + rrng.normal(0, 8, size=3), 0, 255)
            self.instances.append(_Instance("clutter", [_box(lo, hi)], colour))

    def add_soffit(self) -> None:
        """A lowered part of the ceiling: a bulkhead along one wall (boxing in ducts, pipes or cable trays) or a
        dropped band across the room, 0.15-0.6 m below the ceiling. Office buildings are full of them, and
        S3DIS labels them ceiling; a synthetic room whose only horizontal surfaces near the ceiling are
        hanging clutter teaches a model that any surface half a metre below the ceiling is clutter. Its
        underside stays above 2.25 m, clear of bookcases and doors."""
        rng = self.rng
        w, l, h = self.size
        lo, hi = [0.0, 0.0, h - rng.uniform(0.15, min(0.6, h - 2.25))], [w, l, h]
        if rng.random() < 0.7:                  # along a wall: underside + the face looking into the room
            wall = int(rng.integers(4))
            axis = 1 if wall in (0, 2) else 0   # walls 0 and 2 run along x, so the soffit reaches in along y
            length = hi[axis]
            depth = rng.uniform(0.4, min(1.5, 0.4 * length))
            near = wall in (0, 3)               # the wall at coordinate 0 of that axis
            if near:
                hi[axis] = depth
            else:
                lo[axis] = length - depth
            faces = [(2, 0), (axis, int(near))]
        else:                                   # a band across the room, both edges seen
            axis = int(rng.integers(2))
            length = hi[axis]
            width = rng.uniform(0.8, max(0.9, 0.4 * length))
            c0 = rng.uniform(0.3, max(0.31, length - width - 0.3))
            lo[axis], hi[axis] = c0, c0 + width
            faces = [(2, 0), (axis, 0), (axis, 1)]
        self.add("ceiling", [_box(lo, hi, faces=faces)])

    def add_corner(self) -> None:
        """An L-shaped room: a block of wall cuts one corner off the floor plan (only its two faces that
        look into the room exist; the floor and ceiling under and over it stay, hidden from every scan)."""
        rng = self.rng
        w, l, h = self.size
        a, b = rng.uniform(0.25, 0.45) * w, rng.uniform(0.25, 0.45) * l
        corner = int(rng.integers(4))
        x0, x1 = (0.0, a) if corner in (0, 3) else (w - a, w)
        y0, y1 = (0.0, b) if corner in (0, 1) else (l - b, l)
        xface = (0, 1) if x0 == 0.0 else (0, 0)
        yface = (1, 1) if y0 == 0.0 else (1, 0)
        self.add("wall", [_box((x0, y0, 0), (x1, y1, h), faces=[xface, yface])])
        self.footprints.append((x0, y0, x1, y1))

    def add_clutter_hung(self) -> None:
        """Clutter that is not on the floor: signs, posters, boards, extinguishers and boxes on the walls; lamps,
        pipes and ducts hanging under the ceiling (S3DIS labels all of them clutter)."""
        rng = self.rng
        w, l, h = self.size
        if rng.random() < 0.55:
            wall = int(rng.integers(4))
            # half are flat on the wall (posters, notice boards, signs, panels over doors: S3DIS labels them
            # clutter, and only their outline and colour set them apart from the wall), half stand off it
            flush = rng.random() < 0.5
            width = rng.uniform(0.3, 1.8) if flush else rng.uniform(0.15, 0.8)
            span = self.reserve_wall(wall, width, margin=0.2)
            if span is None:
                return
            tall = rng.uniform(0.2, 0.9) if flush else rng.uniform(0.15, 0.6)
            z0 = rng.uniform(0.8 if flush else 1.0, max(h - 0.1 - tall, 1.0))
            lo, hi = self.wall_rect(wall, span[0], span[1], z0, min(z0 + tall, h - 0.05), 0.0,
                                    rng.uniform(0.003, 0.015) if flush else rng.uniform(0.01, 0.2))
            self.add("clutter", [_box(lo, hi)])
        else:
            if rng.random() < 0.5:   # a lamp or a box
                sx, sy = rng.uniform(0.3, 1.2), rng.uniform(0.2, 0.6)
            else:                    # a pipe or duct along the room
                sx, sy = (w * rng.uniform(0.4, 0.9), rng.uniform(0.05, 0.3))
            if rng.random() < 0.5:
                sx, sy = sy, sx
            x0, y0 = rng.uniform(0, max(w - sx, 0.01)), rng.uniform(0, max(l - sy, 0.01))
            drop = rng.uniform(0.02, 0.5)
            lo = (x0, y0, h - drop - rng.uniform(0.04, 0.25))
            self.add("clutter", [_box(lo, (x0 + sx, y0 + sy, h - drop))])

    def ensure(self, classes: list[str]) -> None:
        """Force one small instance of each class that did not fit yet (smaller and smaller)."""
        have = {i.cls for i in self.instances}
        for cls in classes:
            for scale in (0.8, 0.6, 0.45, 0.3):
                if cls in have:
                    break
                if cls == "table":
                    self.add_table(big=False, small_ok=True, scale=scale)
                elif cls == "chair":
                    self.add_free_chair(scale)
                elif cls == "sofa":
                    self.add_sofa(scale)
                elif cls == "bookcase":
                    self.add_bookcase(scale)
                elif cls == "clutter":
                    self.add_clutter_floor(scale)
                have = {i.cls for i in self.instances}

    def add_column(self) -> None:
        rng = self.rng
        w, l, h = self.size
        s = rng.uniform(0.35, 0.6)
        wall = int(rng.integers(4))
        _, _, _, length = self.wall_frame(wall)
        corner = rng.random() < 0.5
        at = 0.0 if corner else None
        span = self.reserve_wall(wall, s, margin=0.0 if corner else 0.5, at=at)
        if span is None:
            return
        lo, hi = self.wall_rect(wall, span[0], span[1], 0, h, 0, s)
        # faces flush with a wall, the floor or the ceiling are hidden
        faces = [(a, sd) for a, sd in _FACES if a < 2 and not (
            (sd == 0 and lo[a] < 1e-6) or (sd == 1 and hi[a] > self.size[a] - 1e-6))]
        self.add("column", [_box(lo, hi, faces)])
        self.footprints.append((lo[0], lo[1], hi[0], hi[1]))
        if corner:   # the perpendicular wall is used at its end, too
            other = (wall + 3) % 4
            _, _, _, olen = self.wall_frame(other)
            self.wall_spans[other].append((olen - s, olen))

    def add_opening(self, cls: str) -> None:
        rng = self.rng
        h = self.size[2]
        if cls == "door":
            width, z0, z1 = rng.uniform(0.85, 1.0), 0.0, rng.uniform(2.0, 2.2)
        elif cls == "window":
            width = rng.uniform(0.9, 2.0)
            z0 = rng.uniform(0.8, 1.0)
            z1 = min(z0 + rng.uniform(1.0, 1.5), h - 0.25)
        else:  # board
            width = rng.uniform(1.5, 3.0)
            z0 = rng.uniform(0.85, 1.0)
            z1 = z0 + rng.uniform(1.0, 1.2)
        for _ in range(8):
            wall = int(rng.integers(4))
            span = self.reserve_wall(wall, width, margin=0.3)
            if span is None:
                width *= 0.85
                continue
            u0, u1 = span
            if self.scan and cls != "board":
                # doors and windows sit in the wall plane: the leaf or glass a few cm behind it, a frame a
                # little proud of it (boards hang on the wall)
                back = rng.uniform(0.02, 0.08)
                fw, proud = rng.uniform(0.04, 0.09), rng.uniform(0.0, 0.025)
                if cls == "door" and self.door_rng.random() < OPEN_DOOR_SHARE:
                    parts, back = self.open_door(wall, u0, u1, z1)
                else:
                    lo, hi = self.wall_rect(wall, u0, u1, z0, z1, -back - 0.03, -back)
                    parts = [_box(lo, hi, [f for f in _FACES if not (f[0] == 2 and f[1] == 0 and z0 == 0)])]
                for a0, a1, b0, b1 in ((u0 - fw, u0, z0, z1), (u1, u1 + fw, z0, z1), (u0 - fw, u1 + fw, z1, z1 + fw)):
                    flo, fhi = self.wall_rect(wall, a0, a1, b0, b1, -back, proud)
                    parts.append(_box(flo, fhi))
                if cls == "window":
                    flo, fhi = self.wall_rect(wall, u0 - fw, u1 + fw, z0 - fw, z0, -back, proud + 0.1)
                    parts.append(_box(flo, fhi))   # sill
                self.add(cls, parts)
                hole_lo, hole_hi = self.wall_rect(wall, u0 - fw, u1 + fw, z0, z1 + fw, -0.01, 0.01)
                self.wall_holes[wall].append((hole_lo, hole_hi))
                if cls == "door":
                    flo, fhi = self.wall_rect(wall, u0, u1, 0, 0, 0, 1.0)
                    self.footprints.append((flo[0], flo[1], fhi[0], fhi[1]))
                return
            off = rng.uniform(0.01, 0.03)
            thick = 0.04 if cls == "door" else 0.02
            lo, hi = self.wall_rect(wall, u0, u1, z0, z1, off, off + thick)
            self.add(cls, [_box(lo, hi, [f for f in _FACES if not (f[0] == 2 and f[1] == 0 and z0 == 0)])])
            hole_lo, hole_hi = self.wall_rect(wall, u0, u1, z0, z1, -0.01, 0.01)
            self.wall_holes[wall].append((hole_lo, hole_hi))
            # keep the floor in front of doors and boards free
            if cls in ("door", "board"):
                flo, fhi = self.wall_rect(wall, u0, u1, 0, 0, 0, 1.0 if cls == "door" else 0.6)
                self.footprints.append((flo[0], flo[1], fhi[0], fhi[1]))
            return

    def open_door(self, wall: int, u0: float, u1: float, z1: float) -> tuple[list, float]:
        """An open door in the opening [u0, u1] x [0, z1] of a wall: no leaf in the wall plane, so the frame's
        jambs and head run back through the wall's thickness (returned as the frame's depth), and rays
        through the opening leave the room. The leaf is swung into the room, square to the wall at its hinge
        side, or opened outwards, out of sight (half each). Returns (the leaf's parts, the frame's depth)."""
        drng = self.door_rng
        depth = drng.uniform(*WALL_THICKNESS)
        if drng.random() < 0.5:
            return [], depth
        hinge0 = drng.random() < 0.5
        a0, a1 = (u0, u0 + 0.04) if hinge0 else (u1 - 0.04, u1)
        lo, hi = self.wall_rect(wall, a0, a1, 0.01, z1 - 0.01, 0.0, u1 - u0)
        return [_box(lo, hi, [f for f in _FACES if f != (2, 0)])], depth

    def add_beam(self) -> None:
        rng = self.rng
        w, l, h = self.size
        bw, bd = rng.uniform(0.25, 0.5), rng.uniform(0.25, 0.45)
        if rng.random() < 0.5:   # along x at some y
            y = rng.uniform(0.2, l - 0.2 - bw)
            box = _box((0, y, h - bd), (w, y + bw, h), faces=[(1, 0), (1, 1), (2, 0)])
        else:
            x = rng.uniform(0.2, w - 0.2 - bw)
            box = _box((x, 0, h - bd), (x + bw, l, h), faces=[(0, 0), (0, 1), (2, 0)])
        self.add("beam", [box])

    def add_table(self, big: bool, small_ok: bool = False, scale: float = 1.0
                  ) -> tuple[float, float, float, float, float, tuple] | None:
        """A table (top + 4 legs); returns (x0, y0, x1, y1, top height, its floor footprint) or None."""
        rng = self.rng
        if big:
            dx, dy = rng.uniform(2.5, 3.8), rng.uniform(1.1, 1.4)
        else:
            dx, dy = rng.uniform(1.2, 1.8) * scale, rng.uniform(0.6, 0.9) * scale
        if rng.random() < 0.5:
            dx, dy = dy, dx
        top = rng.uniform(0.72, 0.76)
        spot = self.place(dx + 1.2, dy + 1.2, against_wall=False)   # room for chairs around it
        if spot is None and small_ok:
            spot = self.place(dx, dy, against_wall=rng.random() < 0.5)
            if spot is not None:
                x0, y0, x1, y1, _ = spot
                spot = (x0 - 0.6, y0 - 0.6, x1 + 0.6, y1 + 0.6, -1)
        if spot is None:
            return None
        footprint = self.footprints[-1]
        x0, y0 = spot[0] + 0.6, spot[1] + 0.6
        x1, y1 = x0 + dx, y0 + dy
        t = rng.uniform(0.03, 0.05)
        parts = [_box((x0, y0, top - t), (x1, y1, top))]
        leg = 0.05
        for lx, ly in ((x0 + 0.05, y0 + 0.05), (x1 - 0.05 - leg, y0 + 0.05), (x0 + 0.05, y1 - 0.05 - leg),
                       (x1 - 0.05 - leg, y1 - 0.05 - leg)):
            parts.append(_box((lx, ly, 0), (lx + leg, ly + leg, top - t), faces=_FACES[:4]))
        self.add("table", parts)
        return x0, y0, x1, y1, top, footprint

    def _chair_parts(self, cx: float, cy: float, facing: int, scale: float = 1.0) -> list[_Box]:
        """A chair centred at (cx, cy) facing direction 0..3 (+x, +y, -x, -y)."""
        rng = self.rng
        s = rng.uniform(0.42, 0.5) * scale
        seat = rng.uniform(0.43, 0.48)
        back_h = rng.uniform(0.35, 0.5)
        x0, y0, x1, y1 = cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2
        parts = [_box((x0, y0, seat - 0.05), (x1, y1, seat))]
        bt = 0.05
        back = {0: ((x0, y0), (x0 + bt, y1)), 1: ((x0, y0), (x1, y0 + bt)),
                2: ((x1 - bt, y0), (x1, y1)), 3: ((x0, y1 - bt), (x1, y1))}[facing]
        parts.append(_box((*back[0], seat), (*back[1], seat + back_h)))
        leg = 0.035
        for lx, ly in ((x0, y0), (x1 - leg, y0), (x0, y1 - leg), (x1 - leg, y1 - leg)):
            parts.append(_box((lx, ly, 0), (lx + leg, ly + leg, seat - 0.05), faces=_FACES[:4]))
        return parts

    def add_chairs(self, table: tuple) -> None:
        """1-6 chairs around a table, facing it (they may tuck under their own table only)."""
        rng = self.rng
        x0, y0, x1, y1, _, footprint = table
        n = int(rng.integers(1, 7))
        sides = rng.integers(4, size=n)
        first = len(self.chair_rects)
        for side in sides:
            s = 0.5
            if side == 0:   # chair on the -x side, facing +x
                cx, cy, facing = x0 - 0.15, rng.uniform(y0 + s / 2, max(y0 + s / 2, y1 - s / 2)), 0
            elif side == 1:
                cx, cy, facing = rng.uniform(x0 + s / 2, max(x0 + s / 2, x1 - s / 2)), y0 - 0.15, 1
            elif side == 2:
                cx, cy, facing = x1 + 0.15, rng.uniform(y0 + s / 2, max(y0 + s / 2, y1 - s / 2)), 2
            else:
                cx, cy, facing = rng.uniform(x0 + s / 2, max(x0 + s / 2, x1 - s / 2)), y1 + 0.15, 3
            rect = (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2)
            if self.floor_free(rect, gap=0.05, exclude=footprint) and all(
                    rect[2] + 0.05 <= a0 or rect[0] >= a1 + 0.05 or rect[3] + 0.05 <= b0 or rect[1] >= b1 + 0.05
                    for a0, b0, a1, b1 in self.chair_rects):
                self.chair_rects.append(rect)
                self.add("chair", self._chair_parts(cx, cy, facing))
        # reserve the chairs' floor only now, so that they can share their table's margin
        self.footprints += self.chair_rects[first:]

    def add_free_chair(self, scale: float = 1.0) -> None:
        spot = self.place(0.5 * scale, 0.5 * scale, against_wall=False)
        if spot is None:
            spot = self.place(0.5 * scale, 0.5 * scale, against_wall=True)
        if spot is not None:
            x0, y0, x1, y1, _ = spot
            self.add("chair", self._chair_parts((x0 + x1) / 2, (y0 + y1) / 2, int(self.rng.integers(4)), scale))

    def add_sofa(self, scale: float = 1.0) -> None:
        rng = self.rng
        length, depth = rng.uniform(1.5, 2.2) * scale, rng.uniform(0.8, 0.95) * max(scale, 0.7)
        spot = self.place(length, depth, against_wall=True)
        if spot is None:
            return
        x0, y0, x1, y1, wall = spot
        seat, top, arm = rng.uniform(0.4, 0.45), rng.uniform(0.75, 0.9), 0.15
        parts = [_box((x0, y0, 0), (x1, y1, seat), faces=_FACES[:4] + ((2, 1),))]
        # back along the wall side, arms at the two ends
        if wall in (0, 2):
            by = (y0, y0 + 0.2) if wall == 0 else (y1 - 0.2, y1)
            parts.append(_box((x0, by[0], seat), (x1, by[1], top)))
            parts += [_box((x0, y0, seat), (x0 + arm, y1, seat + 0.2)), _box((x1 - arm, y0, seat), (x1, y1, seat + 0.2))]
        else:
            bx = (x1 - 0.2, x1) if wall == 1 else (x0, x0 + 0.2)
            parts.append(_box((bx[0], y0, seat), (bx[1], y1, top)))
            parts += [_box((x0, y0, seat), (x1, y0 + arm, seat + 0.2)), _box((x0, y1 - arm, seat), (x1, y1, seat + 0.2))]
        self.add("sofa", parts)

    def add_bookcase(self, scale: float = 1.0) -> None:
        rng = self.rng
        width, depth = rng.uniform(0.8, 1.2) * scale, rng.uniform(0.3, 0.4)
        height = min(rng.uniform(1.6, 2.2) * max(scale, 0.6), self.size[2] - 0.2)
        spot = self.place(width, depth, against_wall=True)
        if spot is None:
            return
        x0, y0, x1, y1, wall = spot
        t = 0.02
        parts = []
        if wall in (0, 2):   # long axis x, open towards the room
            parts += [_box((x0, y0, 0), (x0 + t, y1, height)), _box((x1 - t, y0, 0), (x1, y1, height))]
            back_y = (y0, y0 + t) if wall == 0 else (y1 - t, y1)
            parts.append(_box((x0, back_y[0], 0), (x1, back_y[1], height), faces=[(1, 0 if wall == 2 else 1)]))
        else:
            parts += [_box((x0, y0, 0), (x1, y0 + t, height)), _box((x0, y1 - t, 0), (x1, y1, height))]
            back_x = (x1 - t, x1) if wall == 1 else (x0, x0 + t)
            parts.append(_box((back_x[0], y0, 0), (back_x[1], y1, height), faces=[(0, 0 if wall == 1 else 1)]))
        shelves = np.linspace(0.05, height - t, int(rng.integers(3, 6)))
        for z in shelves:
            parts.append(_box((x0, y0, z), (x1, y1, z + t), faces=[(2, 0), (2, 1)]))
        self.add("bookcase", parts)
        # books: clutter on a shelf now and then
        if rng.random() < 0.5:
            z = float(shelves[rng.integers(len(shelves) - 1)]) + t
            bx = rng.uniform(x0 + 0.05, max(x0 + 0.06, x1 - 0.35))
            by = rng.uniform(y0 + 0.02, max(y0 + 0.03, y1 - 0.3))
            self.add("clutter", [_box((bx, by, z), (min(bx + 0.3, x1 - 0.02), min(by + 0.25, y1 - 0.02),
                                                    z + rng.uniform(0.15, 0.25)), faces=_FACES[:4] + ((2, 1),))])

    def add_clutter_on(self, table: tuple) -> None:
        rng = self.rng
        x0, y0, x1, y1, top, _ = table
        sx, sy, sz = rng.uniform(0.08, 0.4), rng.uniform(0.08, 0.35), rng.uniform(0.03, 0.35)
        if x1 - x0 <= sx + 0.04 or y1 - y0 <= sy + 0.04:
            return
        cx = rng.uniform(x0 + 0.02, x1 - 0.02 - sx)
        cy = rng.uniform(y0 + 0.02, y1 - 0.02 - sy)
        if rng.random() < 0.3:
            r = np.array([sx, sy, sz]) / 2
            self.add("clutter", [_Blob(np.array([cx + r[0], cy + r[1], top + r[2]]), r)])
        else:
            self.add("clutter", [_box((cx, cy, top), (cx + sx, cy + sy, top + sz), faces=_FACES[:4] + ((2, 1),))])

    def add_clutter_floor(self, scale: float = 1.0) -> None:
        rng = self.rng
        sx, sy, sz = (rng.uniform(0.2, 0.7) * scale, rng.uniform(0.2, 0.6) * scale,
                      rng.uniform(0.1, 0.9) * scale)
        spot = self.place(sx, sy, against_wall=rng.random() < 0.6)
        if spot is None:
            return
        x0, y0, x1, y1, _ = spot
        if rng.random() < 0.3:
            r = np.array([x1 - x0, y1 - y0, sz]) / 2
            self.add("clutter", [_Blob(np.array([x0 + r[0], y0 + r[1], r[2]]), r)])
        else:
            self.add("clutter", [_box((x0, y0, 0), (x1, y1, sz), faces=_FACES[:4] + ((2, 1),))])


# ---------------------------------------------------------------------------------------------- rooms
def _room_points(rng: np.random.Generator, kind: str, points: int, style: str = "surface"
                 ) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """Build one room and sample it (``style`` "surface": uniform surface sampling; "scan": ray cast from
    several scanner positions, pcseg.data.scanner). Returns [(class, (n, 6) float64 x y z r g b)] per instance (room
    coordinates) and the room size.

    Shapes:
        each array (n_i, 6): xyz in metres, rgb 0-255 integers stored as floats.
    """
    room = _Room(rng, kind, scan=(style == "scan"))
    instances = room.build()
    if style == "scan":
        from pcseg.data.scanner import scan_room

        total = points * float(np.clip(room.size[0] * room.size[1] / 30.0, 0.5, 1.5))
        scanned = scan_room(instances, room.size, room.footprints, int(total), rng)
        return [(inst.cls, rows) for inst, rows in zip(instances, scanned) if len(rows)], room.size
    areas = np.array([sum(p.area() for p in inst.parts) for inst in instances])
    # bigger rooms get more points: about `points` for a 30 m^2 floor, 0.5x..1.5x of it
    total = points * float(np.clip(room.size[0] * room.size[1] / 30.0, 0.5, 1.5))
    density = total / areas.sum()
    out = []
    for inst, area in zip(instances, areas):
        n = max(30, int(round(area * density)))
        part_areas = np.array([p.area() for p in inst.parts])
        counts = rng.multinomial(n, part_areas / part_areas.sum())
        xyz, shade = [], []
        for part, c in zip(inst.parts, counts):
            if c:
                p, s = _sample_part(part, int(c), rng)
                xyz.append(p)
                shade.append(s)
        xyz = np.concatenate(xyz) + rng.normal(0, NOISE_SIGMA, size=(n, 3))
        shade = np.concatenate(shade)
        rgb = inst.color[None, :] * shade[:, None] + rng.normal(0, 6, size=(n, 3))
        rgb = np.clip(np.rint(rgb), 0, 255)
        out.append((inst.cls, np.column_stack([xyz, rgb])))
    return out, room.size


def _format(rows: np.ndarray) -> bytes:
    """(n, 6) float64 -> S3DIS text lines ``%.3f %.3f %.3f %d %d %d``."""
    if len(rows) == 0:
        return b""
    return (("%.3f %.3f %.3f %d %d %d\n" * len(rows)) % tuple(rows.ravel().tolist())).encode()


def room_names(rooms: int) -> list[tuple[str, str]]:
    """(room type, room name) for the first ``rooms`` rooms of an area: types cycle through ROOM_TYPES and
    each type is numbered from 1 (office_1, conferenceRoom_1, hallway_1, lounge_1, office_2, ...)."""
    counts: dict[str, int] = {}
    names = []
    for k in range(rooms):
        kind = ROOM_TYPES[k % len(ROOM_TYPES)]
        counts[kind] = counts.get(kind, 0) + 1
        names.append((kind, f"{kind}_{counts[kind]}"))
    return names


def _write_room(room_dir: Path, instances: list[tuple[str, np.ndarray]]) -> int:
    """Write one room into a temporary folder beside ``room_dir`` and rename it into place."""
    room_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{room_dir.name}.tmp-", dir=room_dir.parent))
    try:
        (tmp / "Annotations").mkdir()
        counters: dict[str, int] = {}
        chunks = []
        for cls, rows in instances:
            counters[cls] = counters.get(cls, 0) + 1
            text = _format(rows)
            (tmp / "Annotations" / f"{cls}_{counters[cls]}.txt").write_bytes(text)
            chunks.append(text)
        (tmp / f"{room_dir.name}.txt").write_bytes(b"".join(chunks))
        for p in [tmp, tmp / "Annotations"]:
            os.chmod(p, 0o755)
        if room_dir.exists():
            old = room_dir.with_name(f".{room_dir.name}.old-{os.getpid()}")
            os.rename(room_dir, old)
            os.rename(tmp, room_dir)
            shutil.rmtree(old)
        else:
            os.rename(tmp, room_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sum(len(rows) for _, rows in instances)


def synth_s3dis(out: str | os.PathLike, areas: Sequence[int] = DEFAULT_AREAS, rooms_per_area: int = DEFAULT_ROOMS,
                points_per_room: int = DEFAULT_POINTS, seed: int = 0, style: str = "surface") -> dict:
    """Write synthetic rooms under ``out/Stanford3dDataset_v1.2_Aligned_Version``.

    Returns {"root": str, "rooms": int, "points": int, "class_points": {class: int}}. Each room appears
    atomically (written to a hidden temp folder, then renamed); rerunning overwrites the same rooms.
    """
    from pcseg.classes import S3DIS

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PcsegError(out, "output exists and is not a folder")
    if rooms_per_area < 1:
        raise PcsegError("--rooms", f"must be at least 1, got {rooms_per_area}")
    if points_per_room < 1000:
        raise PcsegError("--points", f"must be at least 1000, got {points_per_room}")
    if style not in STYLES:
        raise PcsegError("--style", f"must be one of {', '.join(STYLES)}, got {style!r}")
    if not areas or any(a < 1 for a in areas):
        raise PcsegError("--areas", f"area numbers must be positive integers, got {list(areas)}")
    root = out / ALIGNED
    class_points = dict.fromkeys(S3DIS.names, 0)
    total_rooms = total_points = 0
    for area in sorted(set(int(a) for a in areas)):
        for k, (kind, name) in enumerate(room_names(rooms_per_area)):
            rng = np.random.default_rng([seed, area, k])
            instances, size = _room_points(rng, kind, points_per_room, style)
            # rooms sit at area coordinates: a row of rooms along x with a gap, floor near z = 0
            origin = np.array([2.0 + 9.0 * k, rng.uniform(0, 20.0), rng.uniform(-0.1, 0.1)])
            placed = []
            for cls, rows in instances:
                rows = rows.copy()
                rows[:, :3] += origin
                placed.append((cls, rows))
                class_points[cls] += len(rows)
            total_points += _write_room(root / f"Area_{area}" / name, placed)
            total_rooms += 1
    return {"root": str(root), "rooms": total_rooms, "points": total_points, "class_points": class_points}


def cli(args: argparse.Namespace) -> int:
    """``pcseg synth s3dis OUT [--areas ...] [--rooms N] [--points P] [--seed S]``."""
    summary = synth_s3dis(args.out, areas=args.areas or DEFAULT_AREAS,
                          rooms_per_area=args.rooms if args.rooms is not None else DEFAULT_ROOMS,
                          points_per_room=args.points if args.points is not None else DEFAULT_POINTS,
                          seed=args.seed, style=getattr(args, "style", None) or "surface")
    print(f"wrote {summary['rooms']} rooms, {summary['points']:,} points to {summary['root']}")
    return 0


__all__ = ["synth_s3dis", "room_names", "cli", "ALIGNED", "S3DIS_SHARES"]
