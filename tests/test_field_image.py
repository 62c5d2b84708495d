"""The boundary drawn for fast playback: the field as a PNG coloured like the heatmap's colour scale, the
boundary as polylines where the field crosses the level."""
from __future__ import annotations

import numpy as np
import pytest

from nonlin_core import field_image, plots
from tests.support.field import png_rgb


def rgb(color: str) -> np.ndarray:
    return field_image._rgb(color).astype(int)


def test_a_binary_field_decodes_to_the_colour_scale_with_the_top_row_at_the_highest_y():
    G = 5
    heat = np.tile(np.array([0, 25, 50, 75, 100], dtype=np.uint8), (G, 1))   # P(class 1) grows with x
    heat[-1, :] = 100                                                        # the highest y: all class 1
    img = png_rgb(field_image.field_source(heat, 2))
    assert img.shape == (G, G, 3)
    low, mid, high = (rgb(c) for _, c in plots.boundary_colorscale(2))
    assert np.array_equal(img[-1, 0], low) and np.array_equal(img[-1, 2], mid) and np.array_equal(img[-1, 4], high)
    assert np.abs(img[-1, 1].astype(int) - (low + mid) / 2).max() <= 1          # linear between stops
    assert (img[0] == high).all()                                             # PNG row 0 = grid row G-1


def test_a_multiclass_field_is_crisp_class_colours_pale_when_unsure():
    classes = 3
    heat = np.array([[0, 999], [1000, 2999]], dtype=np.uint16)                # (class, confidence 0 or ~1)
    img = png_rgb(field_image.field_source(heat, classes))
    k = field_image.CRISP_UPSAMPLE
    assert img.shape == (2 * k, 2 * k, 3)
    cell = lambda r, c: img[(1 - r) * k:(2 - r) * k, c * k:(c + 1) * k]         # grid (row, col) -> pixels
    pale0, sure0 = rgb(plots.tint(plots.class_color(0), 0.92)), rgb(plots.tint(plots.class_color(0), 0.55))
    assert (cell(0, 0) == pale0).all()
    assert np.abs(cell(0, 1).astype(int) - sure0).max() <= 1
    assert (cell(1, 0) == rgb(plots.tint(plots.class_color(1), 0.92))).all()
    assert np.abs(cell(1, 1).astype(int) - rgb(plots.tint(plots.class_color(2), 0.55))).max() <= 1


def circle_field(G: int = 60, radius: float = 0.6):
    xs = ys = np.linspace(-1.0, 1.0, G)
    X, Y = np.meshgrid(xs, ys)
    return xs, ys, 1 / (1 + np.exp(-8 * (np.hypot(X, Y) - radius))), radius    # 0.5 on the circle


def bilinear(f, xs, ys, x, y):
    j = np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2)
    i = np.clip(np.searchsorted(ys, y) - 1, 0, len(ys) - 2)
    tx, ty = (x - xs[j]) / (xs[j + 1] - xs[j]), (y - ys[i]) / (ys[i + 1] - ys[i])
    return ((1 - tx) * (1 - ty) * f[i, j] + tx * (1 - ty) * f[i, j + 1] + tx * ty * f[i + 1, j + 1]
            + (1 - tx) * ty * f[i + 1, j])


def test_the_boundary_line_lies_where_the_field_crosses_the_level_within_a_cell():
    xs, ys, f, radius = circle_field()
    x, y = field_image.level_lines(xs, ys, f, 0.5)
    cell = xs[1] - xs[0]
    assert not np.isnan(x).any() and len(x) > 50                       # one closed loop, no gap
    assert np.hypot(x[0] - x[-1], y[0] - y[-1]) < 1e-6
    assert np.abs(np.hypot(x, y) - radius).max() < cell / 2              # on the true circle, within half a cell
    assert np.abs(bilinear(f, xs, ys, x.astype(float), y.astype(float)) - 0.5).max() < 1e-3   # on a grid edge
    # every grid edge the field crosses carries a point of the line
    crossings = int(((f[:, :-1] > 0.5) != (f[:, 1:] > 0.5)).sum() + ((f[:-1] > 0.5) != (f[1:] > 0.5)).sum())
    assert len(x) - 1 == crossings


def test_a_linear_field_gives_one_straight_open_line_and_a_flat_field_none():
    xs = ys = np.linspace(-1.0, 1.0, 30)
    X, Y = np.meshgrid(xs, ys)
    x, y = field_image.level_lines(xs, ys, 0.3 * X - 0.7 * Y + 0.1, 0.0)
    assert not np.isnan(x).any()
    assert np.allclose(0.3 * x - 0.7 * y + 0.1, 0.0, atol=1e-5)          # every point on the true line
    bx, by = field_image.border_lines(xs, ys, [np.full((30, 30), 80, dtype=np.uint8)], 2)
    assert np.isnan(bx).all() and len(bx) == 1                           # a gap, not an empty trace


def test_a_saddle_cell_joins_by_its_centre_and_lines_of_several_classes_are_separated():
    f = np.array([[1.0, 0.0], [0.0, 1.0]])                              # corners 0, 2 above: a saddle
    x, y = field_image.level_lines(np.arange(2.0), np.arange(2.0), f * 0.9 + 0.2, 0.5)   # centre 0.65: above
    assert np.isnan(x).sum() == 1 and (~np.isnan(x)).sum() == 4          # two lines, cutting corners 1 and 3
    x2, _ = field_image.level_lines(np.arange(2.0), np.arange(2.0), f * 0.9 - 0.1, 0.5)  # centre 0.35: below
    assert np.isnan(x2).sum() == 1 and not np.allclose(np.nan_to_num(x), np.nan_to_num(x2))
    xs = ys = np.linspace(-1.0, 1.0, 20)
    X, _ = np.meshgrid(xs, ys)
    margins = [np.round(100 * np.clip(v, -1, 1)).astype(np.int8) for v in (X - 0.5, -X - 0.5, 0.4 - np.abs(X))]
    bx, by = field_image.border_lines(xs, ys, margins, 3)
    assert np.isnan(bx).sum() == 3                                       # four vertical lines, gaps between
    assert sorted({round(float(v), 2) for v in bx[~np.isnan(bx)]}) == pytest.approx([-0.5, -0.4, 0.4, 0.5], abs=0.01)


def test_the_image_covers_the_grid_cells():
    xs, ys = np.linspace(-2, 2, 5), np.linspace(0, 1, 3)
    im = field_image.field_image(xs, ys, "data:", axes="2", opacity=0.35)
    assert (im["x"], im["x"] + im["sizex"]) == pytest.approx((-2.5, 2.5))
    assert (im["y"] - im["sizey"], im["y"]) == pytest.approx((-0.25, 1.25))
    assert im["xref"] == "x2" and im["yref"] == "y2" and im["layer"] == "below" and im["opacity"] == 0.35
