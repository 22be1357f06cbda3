"""Observations of the driving world: a normalised feature vector and a NumPy raster.

* :func:`kinematics` — ego lane offset, heading error, speed, curvature preview, lead
  vehicle and the K nearest vehicles' relative ``s``/``d``/speed with presence flags,
  every entry scaled to ``[-1, 1]``.
* :class:`BirdseyeRenderer` — an ego-centred, heading-up ``uint8`` image drawn with NumPy
  only: each pixel row is mapped to the centreline through a first-order Frenet
  approximation, then lanes, markings and vehicles are masks in ``(s, d)`` and a palette
  built from the scenario's visual parameters colours them (brightness, marking
  contrast), followed by optional blur and pixel noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from envs.driving.arrays import clamp
from envs.driving.road import RoadBatch
from envs.driving.vehicle import (
    MAX_BRAKE,
    MAX_STEER,
    VEHICLE_LENGTH,
    VEHICLE_WIDTH,
    Egos,
    TrafficBatch,
)

__all__ = [
    "LABEL_UNITS",
    "PREVIEW_DISTANCES",
    "BirdseyeRenderer",
    "Palette",
    "Surroundings",
    "kinematics",
    "kinematics_size",
    "surroundings",
]

PREVIEW_DISTANCES = (5.0, 15.0, 30.0, 50.0, 75.0)
CURVATURE_SCALE = 0.04  # [1/m] maps to 1.0
NEIGHBOUR_RANGE = 80.0  # [m] of relative s mapped to 1.0
NEIGHBOUR_FEATURES = 4  # present, rel s, rel d, rel speed
EGO_FEATURES = 11
LEAD_GAP_CAP = 100.0
OCCUPIED_WINDOW = 12.0  # [m] either side along s for the adjacent-lane flags

LABEL_UNITS = {
    "lateral_offset": "m",
    "heading_error": "rad",
    "curvature_ahead": "1/m",
    "lead_gap": "m",
    "lead_rel_speed": "m/s",
    "left_lane_occupied": "0/1",
    "right_lane_occupied": "0/1",
}


def kinematics_size(vehicles: int) -> int:
    """Length of the kinematics vector for ``vehicles`` observed neighbours."""
    return EGO_FEATURES + len(PREVIEW_DISTANCES) + NEIGHBOUR_FEATURES * vehicles


@dataclass
class Surroundings:
    """What the egos' lanes and their neighbours look like (privileged, exact), per world.

    Built by :func:`surroundings`; every field has a leading world axis. Treat it as
    read-only; :meth:`world` gives one world's values as Python scalars.

    Attributes:
        lane: The ego's current lane index.
        lane_offset: Ego ``d`` minus its lane centre [m].
        lead_gap: Bumper gap to the nearest vehicle ahead in its lane [m], capped.
        lead_rel_speed: Lead speed minus ego speed [m/s] (0 when there is no lead).
        left_occupied: A vehicle overlaps the left lane within ``OCCUPIED_WINDOW``, or
            there is no left lane.
        right_occupied: Same for the right lane.
        collided: The ego's footprint overlaps a vehicle's (road-aligned boxes).
        neighbours: ``(N, K, 3)`` ``(rel_s, rel_d, rel_speed)`` of the nearest vehicles by
            ``|rel_s| + 2 |rel_d|`` within ``NEIGHBOUR_RANGE``, nearest first (zeros after
            the last).
        neighbour_count: How many of the ``K`` rows are vehicles.
    """

    lane: np.ndarray
    lane_offset: np.ndarray
    lead_gap: np.ndarray
    lead_rel_speed: np.ndarray
    left_occupied: np.ndarray
    right_occupied: np.ndarray
    collided: np.ndarray
    neighbours: np.ndarray
    neighbour_count: np.ndarray

    def assign(self, worlds: np.ndarray, other: Surroundings) -> None:
        """Overwrites ``worlds``' rows with ``other``'s (computed for those worlds)."""
        for name in self.__dataclass_fields__:
            getattr(self, name)[worlds] = getattr(other, name)

    def world(self, k: int) -> SimpleNamespace:
        """World ``k``'s surroundings as Python scalars (neighbours as a list of tuples)."""
        out = {
            name: getattr(self, name)[k].item()
            for name in self.__dataclass_fields__
            if name not in ("neighbours", "neighbour_count")
        }
        rows = self.neighbours[k, : self.neighbour_count[k]].tolist()
        return SimpleNamespace(**out, neighbours=[tuple(r) for r in rows])


def surroundings(
    roads: RoadBatch,
    egos: Egos,
    traffic: TrafficBatch,
    nearest: int,
    worlds: np.ndarray | None = None,
) -> Surroundings:
    """Computes :class:`Surroundings` of ``worlds`` (default all), with ``nearest`` neighbours."""
    w = slice(None) if worlds is None else worlds
    lanes, width = roads.lanes[w], roads.lane_width[w]
    ego_s, ego_d, ego_v = egos.s[w], egos.d[w], egos.v[w]
    lane = clamp(np.floor(ego_d / width + 0.5 * lanes).astype(np.intp), 0, lanes - 1)
    offset = ego_d - (lane - 0.5 * (lanes - 1)) * width
    num = len(lane)
    r = traffic.s[w] - ego_s[:, None]
    q = traffic.d[w] - ego_d[:, None]
    bits, speed = traffic.bits[w], traffic.v[w]
    near = np.abs(r) < OCCUPIED_WINDOW
    near_bits = np.bitwise_or.reduce(np.where(near, bits, 0), axis=1)
    collided = (near & (np.abs(r) < VEHICLE_LENGTH) & (np.abs(q) < VEHICLE_WIDTH)).any(axis=1)
    own = (bits & (1 << lane)[:, None]) != 0
    ahead = np.where(own & (r > 0.0), r, np.inf)
    if ahead.shape[1]:
        lead = ahead.argmin(axis=1)
        best = ahead[np.arange(num), lead]
        lead_v = speed[np.arange(num), lead]
    else:
        best, lead_v = np.full(num, np.inf), np.zeros(num)
    has_lead = best < LEAD_GAP_CAP + VEHICLE_LENGTH
    lead_gap = np.where(has_lead, best - VEHICLE_LENGTH, LEAD_GAP_CAP)
    lead_rel = np.where(has_lead, lead_v - ego_v, 0.0)
    left = (lane + 1 >= lanes) | ((near_bits & (1 << (lane + 1))) != 0)
    right = (lane == 0) | ((near_bits & (1 << np.maximum(lane - 1, 0))) != 0)
    dist = np.abs(r) + 2.0 * np.abs(q)
    dist = np.where(dist < NEIGHBOUR_RANGE, dist, np.inf)
    order = np.argsort(dist, axis=1, kind="stable")[:, :nearest]
    rows = np.arange(num)[:, None]
    found = dist[rows, order] < np.inf
    neighbours = np.zeros((num, nearest, 3))
    k = order.shape[1]
    for j, values in enumerate((r, q, speed - ego_v[:, None])):
        picked = values[rows, order]
        neighbours[:, :k, j] = np.where(found, picked, 0.0)
    return Surroundings(
        lane, offset, lead_gap, lead_rel, left, right, collided, neighbours, found.sum(axis=1)
    )


def kinematics(
    roads: RoadBatch,
    egos: Egos,
    speed_limit: np.ndarray,
    around: Surroundings,
    worlds: np.ndarray | None = None,
) -> np.ndarray:
    """The ``(N, size)`` kinematics observations of ``worlds`` (float32, entries in ``[-1, 1]``).

    Layout: ``[lane_offset, road_offset, heading_error, speed, speed_limit, steer,
    accel, left_edge, right_edge, lead_gap, lead_rel_speed]``, then the curvature at
    each of ``PREVIEW_DISTANCES``, then for each of the ``K`` nearest vehicles
    ``[present, rel_s, rel_d, rel_speed]`` (nearest first; zeros when absent), ``K``
    being the neighbours ``around`` was built with. ``around`` covers all worlds.
    """
    w = slice(None) if worlds is None else worlds
    half, width = roads.half_width[w], roads.lane_width[w]
    d, v, limit = egos.d[w], egos.v[w], speed_limit[w]
    ego = np.stack(
        [
            around.lane_offset[w] / (0.5 * width),
            d / half,
            egos.psi[w] / (math.pi / 4),
            v / limit - 1.0,
            limit / 40.0,
            egos.steer[w] / MAX_STEER,
            egos.accel[w] / MAX_BRAKE,
            (half - d) / 10.0,
            (half + d) / 10.0,
            around.lead_gap[w] / (0.5 * LEAD_GAP_CAP) - 1.0,
            around.lead_rel_speed[w] / 20.0,
        ],
        axis=1,
    )
    preview = roads.curvature_at(egos.s[w, None] + _PREVIEW, w) * (1.0 / CURVATURE_SCALE)
    found = np.arange(around.neighbours.shape[1]) < around.neighbour_count[w, None]
    rel = (
        around.neighbours[w]
        * np.stack(
            [np.full_like(width, 1.0 / NEIGHBOUR_RANGE), 0.5 / width, np.full_like(width, 0.05)],
            axis=1,
        )[:, None, :]
    )
    cars = np.concatenate([found[..., None].astype(float), rel], axis=2)
    out = np.concatenate([ego, preview, cars.reshape(len(d), -1)], axis=1).astype(np.float32)
    return clamp(out, -1.0, 1.0)


_PREVIEW = np.asarray(PREVIEW_DISTANCES)


# ------------------------------------------------------------------------ raster

MARKING_COLOURS = {
    "white": (240, 240, 240),
    "yellow": (235, 200, 40),
    "blue": (60, 100, 235),
    "red": (225, 50, 50),
}
ROAD_COLOURS = {"asphalt": (70, 70, 76), "concrete": (135, 135, 128), "brick": (125, 62, 48)}
VERGE_COLOURS = {"grass": (62, 128, 52), "sand": (190, 170, 112), "snow": (232, 236, 242)}
TRAFFIC_COLOUR = (240, 150, 30)
EGO_COLOUR = (220, 40, 220)

VERGE, ROAD, MARKING, TRAFFIC, EGO = range(5)


@dataclass(frozen=True)
class Palette:
    """Colours and image effects drawn from the scenario's visual parameters.

    Attributes:
        colours: ``(5, 3)`` float32 RGB for verge, road, marking, traffic, ego (with
            brightness and marking contrast applied).
        blur: Gaussian blur sigma [px] (0 disables it).
        noise: Pixel noise standard deviation as a fraction of 255 (0 disables it).
    """

    colours: np.ndarray
    blur: float = 0.0
    noise: float = 0.0

    @classmethod
    def from_scenario(cls, scenario: Mapping[str, Any]) -> Palette:
        """Builds the palette of a scenario (keys as in the driving scenario space)."""
        road = np.asarray(ROAD_COLOURS[scenario["road_colour"]], dtype=np.float32)
        mark = np.asarray(MARKING_COLOURS[scenario["marking_colour"]], dtype=np.float32)
        contrast = float(scenario["marking_contrast"])
        colours = np.stack(
            [
                np.asarray(VERGE_COLOURS[scenario["verge_colour"]], dtype=np.float32),
                road,
                road + contrast * (mark - road),
                np.asarray(TRAFFIC_COLOUR, dtype=np.float32),
                np.asarray(EGO_COLOUR, dtype=np.float32),
            ]
        )
        colours = clamp(colours * float(scenario["brightness"]), 0.0, 255.0)
        return cls(colours, float(scenario["blur"]), float(scenario["pixel_noise"]))


def palettes(scenarios: list[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(colours (W, 5, 3) float32, blur (W,), noise (W,))`` of W scenarios at once.

    The same colours as :meth:`Palette.from_scenario`, computed for every scenario in a
    handful of array operations.
    """
    get = lambda table, key: np.array(  # noqa: E731
        [table[sc[key]] for sc in scenarios], dtype=np.float32
    )
    road, mark, verge = (
        get(ROAD_COLOURS, "road_colour"),
        get(MARKING_COLOURS, "marking_colour"),
        get(VERGE_COLOURS, "verge_colour"),
    )
    contrast = np.array([sc["marking_contrast"] for sc in scenarios], dtype=np.float32)
    brightness = np.array([sc["brightness"] for sc in scenarios], dtype=np.float32)
    num = len(scenarios)
    colours = np.stack(
        [
            verge,
            road,
            road + contrast[:, None] * (mark - road),
            np.broadcast_to(np.asarray(TRAFFIC_COLOUR, np.float32), (num, 3)),
            np.broadcast_to(np.asarray(EGO_COLOUR, np.float32), (num, 3)),
        ],
        axis=1,
    )
    colours = clamp(colours * brightness[:, None, None], 0.0, 255.0)
    blur = np.array([float(sc["blur"]) for sc in scenarios])
    noise = np.array([float(sc["pixel_noise"]) for sc in scenarios])
    return colours, blur, noise


class BirdseyeRenderer:
    """Draws ego-centred, heading-up top views of a given size and scale.

    Args:
        size: Image height and width [px].
        scale: Metres per pixel.
        ego_row: Row of the ego's centre (default: three quarters down the image).

    Attributes:
        visible_gap: Largest bumper-to-bumper gap to a vehicle ahead at which its rear
            is still inside the image [m].
    """

    def __init__(self, size: int = 64, scale: float = 0.75, ego_row: int | None = None) -> None:
        if size < 8:
            raise ValueError(f"birdseye size must be at least 8 px, got {size}")
        if not scale > 0:
            raise ValueError(f"birdseye scale must be positive metres/pixel, got {scale}")
        self.size = size
        self.scale = scale
        self.ego_row = int(size * 0.75) if ego_row is None else ego_row
        self.ego_col = size / 2.0 - 0.5
        rows = np.arange(size, dtype=np.float64)
        self._forward = (self.ego_row - rows) * scale  # metres ahead of the ego per row
        self._left = (self.ego_col - np.arange(size, dtype=np.float64)) * scale  # per column
        self._left32 = self._left.astype(np.float32)
        extent = size * scale
        self._sample_step = 2.0
        self._samples = np.arange(-extent - 8.0, extent + 8.0, self._sample_step)
        half_l = 0.5 * VEHICLE_LENGTH / scale
        half_w = 0.5 * VEHICLE_WIDTH / scale
        r0, r1 = round(self.ego_row - half_l), round(self.ego_row + half_l)
        c0, c1 = round(self.ego_col - half_w + 0.5), round(self.ego_col + half_w + 0.5)
        self._ego_box = (max(r0, 0), max(r1, 1), max(c0, 0), max(c1, 1))
        self._mark_half = max(0.12, 0.45 * scale)
        margin = VEHICLE_LENGTH + 1.0
        self.visible_gap = self.ego_row * scale - 0.5 * VEHICLE_LENGTH
        self._ahead_m = self.ego_row * scale + margin
        self._behind_m = -(size - self.ego_row) * scale - margin
        self._side_m = 0.75 * size * scale + margin  # half-width, allowing heading error
        self._lut_zero = math.ceil(size * scale * 1.5 / _LUT_RES)
        self._lut_size = 2 * self._lut_zero + 1
        self._lut_cache: dict[tuple[int, float], np.ndarray] = {}
        self._noise_bank = (
            np.random.default_rng(20240601)
            .standard_normal((size + NOISE_MARGIN, size + NOISE_MARGIN, 3))
            .astype(np.float32)
        )
        self._noise_windows = self._windows()

    def _windows(self) -> np.ndarray:
        """Every ``(size, size)`` crop of the noise texture as a view: ``[dy, dx] -> (H, H, 3)``."""
        windows = np.lib.stride_tricks.sliding_window_view(
            self._noise_bank, (self.size, self.size), axis=(0, 1)
        )
        return np.moveaxis(windows, 2, -1)

    def __getstate__(self) -> dict[str, Any]:
        # The crop view spans the texture many times over: copies and pickles rebuild it
        # (and the lookup tables) instead of materialising it.
        state = dict(self.__dict__)
        del state["_noise_windows"]
        state["_lut_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._noise_windows = self._windows()

    def _rows(
        self, roads: RoadBatch, egos: Egos, worlds: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per world and image row ``(W, H)``: centreline column offset [m], heading, ``s``."""
        ego_s = egos.s[worlds]
        s_k = ego_s[:, None] + self._samples
        x, y, theta = roads.pose_at(s_k, worlds)
        xc, yc, th0 = (a[:, 0] for a in roads.pose_at(ego_s[:, None], worlds))
        d = egos.d[worlds]
        ex = xc - d * np.sin(th0)
        ey = yc + d * np.cos(th0)
        yaw = th0 + egos.psi[worlds]
        c, sn = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        dx, dy = x - ex[:, None], y - ey[:, None]
        f_k = np.maximum.accumulate(dx * c + dy * sn, axis=1)  # monotonic abscissa
        l_k = dy * c - dx * sn
        return _interp_rows(self._forward, f_k, (l_k, theta - yaw[:, None], s_k))

    def _luts(self, roads: RoadBatch, worlds: np.ndarray) -> np.ndarray:
        """``(W, 2 * lut size)`` class by lateral offset (dash gap, then dash), per world.

        Cached per road layout (lanes, lane width).
        """
        out = np.empty((len(worlds), 2 * self._lut_size), dtype=np.uint8)
        for j, key in enumerate(
            zip(roads.lanes[worlds].tolist(), roads.lane_width[worlds].tolist(), strict=True)
        ):
            lut = self._lut_cache.get(key)
            if lut is None:
                lut = self._lut_cache[key] = self._lookup(*key)
            out[j] = lut
        return out

    def _lookup(self, lanes: int, width: float) -> np.ndarray:
        d = (np.arange(self._lut_size) - self._lut_zero) * _LUT_RES
        half, mh = 0.5 * lanes * width, self._mark_half
        solid = np.full(d.shape, VERGE, dtype=np.uint8)
        solid[np.abs(d) <= half] = ROAD
        solid[np.abs(np.abs(d) - half) < mh] = MARKING
        u = d / width + 0.5 * lanes  # lane boundaries at integers
        k = np.rint(u)
        inner = (np.abs(u - k) * width < mh) & (k >= 1) & (k <= lanes - 1)
        dashed = solid.copy()
        dashed[inner] = MARKING
        return np.concatenate([solid, dashed])

    def labels(
        self, roads: RoadBatch, egos: Egos, traffic: TrafficBatch, worlds: np.ndarray
    ) -> np.ndarray:
        """``(W, H, H)`` class maps (``VERGE``, ``ROAD``, ``MARKING``, ``TRAFFIC``, ``EGO``).

        Lanes and markings come from a lookup table over ``d``; dashes (6 m on, 6 m
        off) follow each row's ``s``; vehicles are road-aligned boxes in ``(s, d)``.
        """
        num = len(worlds)
        l_c, phi, s_c = self._rows(roads, egos, worlds)
        # Lookup index of each pixel: (d / resolution + zero + 0.5) with
        # d = (left - l_c) cos(phi), as one multiply-add per pixel (float32).
        scale = (np.cos(phi) * (1.0 / _LUT_RES)).astype(np.float32)
        offset = (self._lut_zero + 0.5 - l_c * np.cos(phi) * (1.0 / _LUT_RES)).astype(np.float32)
        index = self._left32[None, None, :] * scale[:, :, None]
        index += offset[:, :, None]
        np.maximum(index, 0.0, out=index)
        np.minimum(index, self._lut_size - 1, out=index)
        code = index.astype(np.int32)
        # Each world's table (solid, then dashed) at its own offset in one flat table.
        dashed = (np.mod(s_c, 12.0) < 6.0).astype(np.int32) * self._lut_size
        code += (dashed + (np.arange(num, dtype=np.int32) * (2 * self._lut_size))[:, None])[
            :, :, None
        ]
        label = self._luts(roads, worlds).reshape(-1).take(code)
        traffic_mask = self._vehicle_pixels(traffic, egos, worlds, l_c, phi, s_c)
        if traffic_mask is not None:
            label[traffic_mask] = TRAFFIC
        r0, r1, c0, c1 = self._ego_box
        label[:, r0:r1, c0:c1] = EGO
        return label

    def _vehicle_pixels(
        self,
        traffic: TrafficBatch,
        egos: Egos,
        worlds: np.ndarray,
        l_c: np.ndarray,
        phi: np.ndarray,
        s_c: np.ndarray,
    ) -> np.ndarray | None:
        """``(W, H, H)`` mask of pixels inside a vehicle's road-aligned box, or ``None``.

        On row ``r`` a pixel ``delta`` metres left of the centreline lies at
        ``d = delta cos(phi_r)`` and ``s = s_r + delta sin(phi_r)``, both linear in the
        column, so each vehicle covers one run of columns per row: the runs are computed
        for every (world, vehicle, row) at once and painted with a difference array.
        """
        rel = traffic.s[worlds] - egos.s[worlds, None]
        lat = traffic.d[worlds] - egos.d[worlds, None]
        view = (rel > self._behind_m) & (rel < self._ahead_m) & (np.abs(lat) < self._side_m)
        shown = int(view.sum(axis=1).max(initial=0))
        if not shown:
            return None
        num, size = len(worlds), self.size
        # The (at most) ``shown`` vehicles in view of each world: (W, K, 1) against rows.
        order = np.argsort(~view, axis=1, kind="stable")[:, :shown]
        valid = np.take_along_axis(view, order, axis=1)[:, :, None]
        vs = np.take_along_axis(traffic.s[worlds], order, axis=1)[:, :, None]
        vd = np.take_along_axis(traffic.d[worlds], order, axis=1)[:, :, None]
        cos_p, sin_p = np.cos(phi)[:, None, :], np.sin(phi)[:, None, :]
        s_row = s_c[:, None, :]
        hw, hl = 0.5 * VEHICLE_WIDTH, 0.5 * VEHICLE_LENGTH
        # delta interval from |d - vd| < hw (cos(phi) > 0 for any view of the road ahead).
        lo = (vd - hw) / cos_p
        hi = (vd + hw) / cos_p
        # ... and from |s - vs| < hl (any delta when the row is parallel: sin(phi) = 0).
        with np.errstate(divide="ignore", invalid="ignore"):
            a = (vs - hl - s_row) / sin_p
            b = (vs + hl - s_row) / sin_p
        parallel = sin_p == 0.0
        inside = np.abs(s_row - vs) < hl
        lo = np.where(parallel, np.where(inside, lo, np.inf), np.maximum(lo, np.minimum(a, b)))
        hi = np.where(parallel, hi, np.minimum(hi, np.maximum(a, b)))
        # Columns: delta = (ego_col - c) * scale - l_c, so c = ego_col - (delta + l_c) / scale.
        l_row = l_c[:, None, :]
        first = np.floor(self.ego_col - (hi + l_row) / self.scale) + 1.0
        last = np.ceil(self.ego_col - (lo + l_row) / self.scale) - 1.0
        first = clamp(np.nan_to_num(first, nan=size), 0, size)
        last = clamp(np.nan_to_num(last, nan=-1.0), -1, size - 1)
        keep = valid & (first <= last)
        base = (np.arange(num)[:, None, None] * size + np.arange(size)) * (size + 1)
        base = np.broadcast_to(base, keep.shape)
        starts = (base + first.astype(np.intp))[keep]
        ends = (base + last.astype(np.intp) + 1)[keep]
        total = num * size * (size + 1)
        runs = np.bincount(starts, minlength=total) - np.bincount(ends, minlength=total)
        covered = runs.reshape(num, size, size + 1).cumsum(axis=2)[:, :, :size] > 0
        return covered

    def render(
        self,
        roads: RoadBatch,
        egos: Egos,
        traffic: TrafficBatch,
        colours: np.ndarray,
        worlds: np.ndarray,
        *,
        blur: np.ndarray | None = None,
        noise: np.ndarray | None = None,
        noise_offsets: np.ndarray | None = None,
    ) -> np.ndarray:
        """The ``(W, H, H, 3)`` uint8 images of ``worlds``.

        Args:
            roads: The worlds' roads (all worlds).
            egos: The worlds' egos.
            traffic: The worlds' traffic.
            colours: ``(W, 5, 3)`` palettes of the rendered worlds (:class:`Palette`).
            worlds: Which worlds to draw.
            blur: ``(W,)`` Gaussian blur sigmas [px] (0: none).
            noise: ``(W,)`` pixel noise std as a fraction of 255 (0: none).
            noise_offsets: ``(W, 2)`` integer crop offsets in ``[0, 32)`` into the fixed
                noise texture (a random crop: as random as the offsets).
        """
        label = self.labels(roads, egos, traffic, worlds)
        num = len(worlds)
        flat = label + (np.arange(num) * 5)[:, None, None]
        img = np.asarray(colours, dtype=np.float32).reshape(-1, 3).take(flat, axis=0)
        if blur is not None and np.any(blur > 0.0):
            img = _blur(img, blur)
        if noise is not None and noise_offsets is not None and np.any(noise > 0.0):
            # (W, H, H, 3) crops of the fixed texture: views gathered in one copy.
            crop = self._noise_windows[noise_offsets[:, 0], noise_offsets[:, 1]]
            crop *= (255.0 * np.asarray(noise, np.float32))[:, None, None, None]
            img += crop
        np.maximum(img, 0.0, out=img)
        np.minimum(img, 255.0, out=img)
        return img.astype(np.uint8)


NOISE_MARGIN = 32
_LUT_RES = 0.05  # [m] resolution of the lateral lookup table


def _interp_rows(
    xq: np.ndarray, xp: np.ndarray, fps: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, ...]:
    """Per-row ``np.interp(xq, xp[k], fp[k])`` for ``(W, S)`` nondecreasing ``xp`` rows.

    A binary search per row and query (``log2 S`` vectorised passes); beyond the ends the
    end values hold, as in ``np.interp``.
    """
    num, samples = xp.shape
    rows = np.arange(num)[:, None]
    lo = np.zeros((num, len(xq)), dtype=np.intp)
    hi = np.full((num, len(xq)), samples, dtype=np.intp)
    for _ in range(int(samples).bit_length()):
        mid = (lo + hi) >> 1
        right = xp[rows, np.minimum(mid, samples - 1)] <= xq
        go = right & (mid < hi)
        lo = np.where(go, mid + 1, lo)
        hi = np.where(go, hi, mid)
    j = clamp(lo - 1, 0, samples - 2)
    x0, x1 = xp[rows, j], xp[rows, j + 1]
    span = x1 - x0
    t = clamp((xq - x0) / np.where(span > 0.0, span, 1.0), 0.0, 1.0)
    out = []
    for fp in fps:
        f0, f1 = fp[rows, j], fp[rows, j + 1]
        out.append(f0 + t * (f1 - f0))
    return tuple(out)


def _blur(img: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Gaussian-like blur per image: separable 3-tap passes matching variance ``sigma^2``.

    Each pass ``[w, 1 - 2w, w]`` adds variance ``2w`` (``w <= 1/3``); edges replicate.
    Images needing fewer passes than the batch's most get identity passes (``w = 0``).
    """
    variance = np.asarray(sigma, dtype=np.float64) ** 2
    passes = np.maximum(1, np.ceil(variance / (2.0 / 3.0))).astype(int)
    passes[variance <= 0.0] = 0
    for p in range(int(passes.max())):
        w = np.where(passes > p, variance / (2.0 * np.maximum(passes, 1)), 0.0)
        w = w.astype(np.float32)[:, None, None, None]
        c = np.float32(1.0) - np.float32(2.0) * w
        for axis in (1, 2):
            out = img * c
            side = img * w
            head = [slice(None)] * 4
            tail = [slice(None)] * 4
            head[axis], tail[axis] = slice(1, None), slice(None, -1)
            out[tuple(head)] += side[tuple(tail)]  # the neighbour before
            out[tuple(tail)] += side[tuple(head)]  # the neighbour after
            edge_first = [slice(None)] * 4
            edge_last = [slice(None)] * 4
            edge_first[axis], edge_last[axis] = slice(0, 1), slice(-1, None)
            out[tuple(edge_first)] += side[tuple(edge_first)]  # replicated edges
            out[tuple(edge_last)] += side[tuple(edge_last)]
            img = out
    return img
