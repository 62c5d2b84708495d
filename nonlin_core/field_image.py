"""The decision boundary drawn so that a time-lapse frame needs no plotly redraw: the colour field as a small
PNG (a layout image stretched over the grid; the browser smooths a binary field's 60x60 pixels as zsmooth
"best" did, a multiclass field is sent 4x upsampled so its class codes stay crisp) and the boundary lines as
polylines (marching squares on the field, interpolated like plotly's contour). Scatter lines animate with
redraw: false; the image of each frame is swapped by a small script in the page."""
from __future__ import annotations

import base64
import functools
import struct
import zlib

import numpy as np

from . import plots

CRISP_UPSAMPLE = 4          # multiclass: each cell 4x4 pixels, so the browser's smoothing blurs ~1/4 of a cell


def _rgb(color: str) -> np.ndarray:
    """'rgb(r,g,b)' or '#rrggbb' -> float (3,)."""
    if color.startswith("#"):
        return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)
    return np.array([float(v) for v in color[color.index("(") + 1:-1].split(",")], dtype=np.float64)


def _colours(heat: np.ndarray, n_classes: int) -> np.ndarray:
    """Field values -> (..., 3) uint8 with plots.boundary_colorscale, as plotly maps it (linear in RGB)."""
    heat = np.asarray(heat, dtype=np.float64)
    if n_classes == 2:
        stops = plots.boundary_colorscale(2)
        pos = [p for p, _ in stops]
        cols = np.stack([_rgb(c) for _, c in stops])                          # (3 stops, rgb)
        t = np.clip(heat / 100, 0, 1)
        rgb = np.stack([np.interp(t, pos, cols[:, ch]) for ch in range(3)], -1)
    else:
        best = np.clip(heat // 1000, 0, n_classes - 1).astype(np.int64)
        share = np.clip((heat - 1000 * best) / 1000, 0, 1)[..., None]         # confidence, 0..0.999
        pale = np.stack([_rgb(plots.tint(plots.class_color(c), 0.92)) for c in range(n_classes)])
        sure = np.stack([_rgb(plots.tint(plots.class_color(c), 0.55)) for c in range(n_classes)])
        rgb = pale[best] + (sure[best] - pale[best]) * share
    return np.round(rgb).clip(0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=16)
def _palette(n_classes: int) -> np.ndarray:
    """The colour of every integer field value: (101 or 1000 * classes, 3) uint8."""
    return _colours(np.arange(101 if n_classes == 2 else 1000 * n_classes), n_classes)


def field_rgb(heat: np.ndarray, n_classes: int) -> np.ndarray:
    """A quantised field (playback.quantised_fields' heat: binary, P(class 1) in percent; multiclass, 1000 *
    (class + confidence)) -> (G, G, 3) uint8, coloured with plots.boundary_colorscale as plotly maps it."""
    heat = np.asarray(heat)
    if not np.issubdtype(heat.dtype, np.integer):
        return _colours(heat, n_classes)
    palette = _palette(n_classes)
    return palette[np.clip(heat, 0, len(palette) - 1)]


def png(rgb: np.ndarray) -> bytes:
    """(H, W, 3) uint8, row 0 at the top -> PNG bytes (8-bit RGB, no filter, zlib)."""
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), rgb.reshape(h, 3 * w)], axis=1).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def field_source(heat: np.ndarray, n_classes: int) -> str:
    """The field of one frame as a PNG data URL: grid row 0 (the lowest y) at the image's bottom."""
    rgb = field_rgb(heat, n_classes)[::-1]
    if n_classes != 2:
        rgb = rgb.repeat(CRISP_UPSAMPLE, 0).repeat(CRISP_UPSAMPLE, 1)
    return "data:image/png;base64," + base64.b64encode(png(np.ascontiguousarray(rgb))).decode("ascii")


def field_image(xs: np.ndarray, ys: np.ndarray, source: str, *, opacity: float = 1.0, axes: str = "") -> dict:
    """A layout image stretched over the grid's cells (xs, ys: cell centres), under the traces."""
    dx, dy = (float(xs[-1]) - float(xs[0])) / max(len(xs) - 1, 1), (float(ys[-1]) - float(ys[0])) / max(len(ys) - 1, 1)
    return {"source": source, "xref": "x" + axes, "yref": "y" + axes, "x": float(xs[0]) - dx / 2,
            "y": float(ys[-1]) + dy / 2, "sizex": float(xs[-1]) - float(xs[0]) + dx,
            "sizey": float(ys[-1]) - float(ys[0]) + dy, "xanchor": "left", "yanchor": "top", "sizing": "stretch",
            "layer": "below", "opacity": opacity, "name": "boundary"}


# marching squares: corners v0 (i, j), v1 (i, j+1), v2 (i+1, j+1), v3 (i+1, j); edges 0 bottom, 1 right,
# 2 top, 3 left; a case (bit c set: corner c above the level) -> the edge pairs its segments join. Saddles
# (5, 10) take row 16 + case % 2 ... when the centre is above the level: see _table
_CASES = {1: ((3, 0),), 2: ((0, 1),), 3: ((3, 1),), 4: ((1, 2),), 6: ((0, 2),), 7: ((3, 2),), 8: ((3, 2),),
          9: ((0, 2),), 11: ((1, 2),), 12: ((3, 1),), 13: ((0, 1),), 14: ((3, 0),),
          5: ((3, 0), (1, 2)), 10: ((3, 2), (0, 1)),                  # saddles, the centre below the level
          16 + 5: ((3, 2), (0, 1)), 16 + 10: ((3, 0), (1, 2))}        # the centre above: the other pairing


def _table() -> np.ndarray:
    table = np.full((32, 2, 2), -1, dtype=np.int64)
    for case, pairs in _CASES.items():
        table[case, :len(pairs)] = pairs
    return table


_TABLE = _table()


def level_lines(xs: np.ndarray, ys: np.ndarray, field: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Where field (G_y, G_x) over cell centres xs, ys crosses `level`: polylines (float32 x and y, NaN between
    lines), each point linearly interpolated along a grid edge, as plotly's contour draws it."""
    f = np.asarray(field, dtype=np.float64)
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    ny, nx = f.shape
    above = f > level
    code = above[:-1, :-1] * 1 + above[:-1, 1:] * 2 + above[1:, 1:] * 4 + above[1:, :-1] * 8
    saddle = (code == 5) | (code == 10)
    centre = (f[:-1, :-1] + f[:-1, 1:] + f[1:, 1:] + f[1:, :-1]) / 4 > level
    code = code + 16 * (saddle & centre)
    i, j = np.nonzero((code > 0) & (code < 15) | (code > 16))
    pairs = _TABLE[code[i, j]]                                             # (cells, 2 segments, 2 edges)
    # an edge's id: horizontal (i, j)-(i, j+1) -> i * nx + j; vertical (i, j)-(i+1, j) -> ny * nx + i * nx + j
    ids = np.stack([i * nx + j, ny * nx + i * nx + j + 1, (i + 1) * nx + j, ny * nx + i * nx + j], -1)
    cell = np.arange(len(i))[:, None, None]
    seg = np.where(pairs >= 0, ids[cell, np.maximum(pairs, 0)], -1).reshape(-1, 2)
    seg = seg[seg[:, 0] >= 0]
    links: dict[int, list[int]] = {}
    for a, b in seg.tolist():
        links.setdefault(a, []).append(b)
        links.setdefault(b, []).append(a)
    chains: list[int] = []                                                 # edge ids, -1 between lines
    for start in [e for e, n in links.items() if len(n) == 1] + list(links):   # open lines first, then loops
        if not links[start]:
            continue
        if chains:
            chains.append(-1)
        chains.append(start)
        here = start
        while links[here]:
            nxt = links[here].pop()
            links[nxt].remove(here)
            chains.append(nxt)
            here = nxt
    e = np.asarray(chains, dtype=np.int64)
    gap, vertical = e < 0, e >= ny * nx
    r = np.where(vertical, e - ny * nx, np.maximum(e, 0))
    ei, ej = r // nx, r % nx
    ei2, ej2 = np.minimum(ei + vertical, ny - 1), np.minimum(ej + ~vertical, nx - 1)
    a, b = f[ei, ej], f[ei2, ej2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(b != a, (level - a) / (b - a), 0.5)
    x = xs[ej] + t * (xs[ej2] - xs[ej])
    y = ys[ei] + t * (ys[ei2] - ys[ei])
    x[gap], y[gap] = np.nan, np.nan
    return x.astype(np.float32), y.astype(np.float32)


def border_lines(xs: np.ndarray, ys: np.ndarray, lines: list[np.ndarray], n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """All boundary lines of a frame in one polyline set: binary, P(class 1) = 50%; multiclass, each class's
    margin over the best other = 0 (playback.quantised_fields' lines). No line: a single NaN point."""
    level = 50.0 if n_classes == 2 else 0.0
    parts = [level_lines(xs, ys, z, level) for z in lines]
    parts = [p for p in parts if len(p[0])]
    if not parts:                       # one gap, not an empty line: plotly drops every trace animating to []
        return np.full(1, np.nan, dtype=np.float32), np.full(1, np.nan, dtype=np.float32)
    gap = np.full(1, np.nan, dtype=np.float32)
    x = np.concatenate([a for p in parts for a in (p[0], gap)][:-1])
    y = np.concatenate([a for p in parts for a in (p[1], gap)][:-1])
    return x, y
