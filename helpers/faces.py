"""Procedural portraits: the course's offline stand-in for photos of people.

Every portrait is drawn from its own random generator, so an image depends only on
``(seed, index)``: datasets are reproducible, any slice can be drawn alone, and workers can draw
in parallel. Parts are polygons in a *face frame* (origin at the face centre, x to the right,
y down, one unit = half the face width), mapped to pixels by one affine transform, which gives
scale, position and head tilt for free. The canvas is drawn at twice the output size and
reduced, for anti-aliased edges.

Nuisance factors (all independent of the label): face shape, skin tone, hair style and colour,
expression, beard, earrings, head position, scale and tilt, background (gradient, texture,
clutter), clothing, lighting, blur, noise and JPEG artifacts. Every colour that an accessory can
take comes from the same palette, so colour alone never gives the class away.

The sections follow the drawing: colours, the face frame, background, person, accessories,
camera, and last :func:`render_portrait`, which puts them together. Which accessories make
which class is not decided here but in :mod:`helpers.tasks`.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Colour = tuple[int, ...]

SKIN_TONES = np.array(
    [
        [58, 38, 28],
        [82, 52, 36],
        [107, 68, 45],
        [134, 88, 58],
        [160, 110, 75],
        [184, 134, 96],
        [198, 150, 115],
        [214, 170, 135],
        [228, 188, 156],
        [240, 205, 178],
        [250, 222, 198],
    ],
    dtype=float,
)
HAIR_COLOURS = np.array(
    [
        [20, 16, 14],
        [45, 32, 25],
        [80, 55, 35],
        [120, 85, 50],
        [165, 120, 70],
        [215, 180, 115],
        [160, 70, 35],
        [130, 130, 130],
        [215, 215, 210],
    ],
    dtype=float,
)


# --------------------------------------------------------------------------------------- colours
def palette_colour(rng: np.random.Generator, alpha: int = 255) -> Colour:
    """Any colour at all: the one palette every accessory, hat and background shape draws from."""
    hue, sat, val = rng.random(), rng.random() ** 0.7, 0.08 + 0.92 * rng.random()
    r, g, b = _hsv_to_rgb(hue, sat, val)
    return (r, g, b, alpha)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return tuple(int(255 * c) for c in rgb)  # type: ignore[return-value]


def _shade(colour: Colour, factor: float) -> Colour:
    rgb = tuple(int(min(255, max(0, c * factor))) for c in colour[:3])
    return rgb + tuple(colour[3:])


def _alpha(colour: Colour, alpha: int) -> Colour:
    return tuple(colour[:3]) + (alpha,)


def _mix(table: np.ndarray, rng: np.random.Generator, jitter: float) -> Colour:
    pos = rng.random() * (len(table) - 1)
    i = int(pos)
    low, high = table[i].tolist(), table[min(i + 1, len(table) - 1)].tolist()
    # Plain floats: the same arithmetic as numpy's on three-element arrays, at a fraction of the cost.
    factors = (1 + jitter * rng.normal(size=3)).tolist()
    return tuple(
        int(min(255.0, max(0.0, (a + (b - a) * (pos - i)) * f))) for a, b, f in zip(low, high, factors, strict=True)
    ) + (255,)


def _pick(rng: np.random.Generator, options: tuple | list):
    """``rng.choice(options)`` (the same draw from the same stream) without first turning ``options`` into an array."""
    return options[rng.integers(len(options))]


# ------------------------------------------------------------------------------------ geometry
@functools.lru_cache(maxsize=256)
def _unit_arc(start: float, end: float, n: int) -> np.ndarray:
    t = np.radians(np.linspace(start, end, n))
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, end: float = 360.0, n: int = 20) -> np.ndarray:
    return _unit_arc(float(start), float(end), n) * (rx, ry) + (cx, cy)


class Canvas:
    """A drawing surface with the face frame's affine transform attached."""

    def __init__(self, size: int, background: Image.Image):
        self.size = size
        self.image = background
        self.draw = ImageDraw.Draw(self.image, "RGBA")
        self.matrix = np.eye(2)
        self.offset = np.zeros(2)
        self.unit = 1.0
        #: Where the accessory's pixels are recorded (an "L" image's ImageDraw), and with what:
        #: 255 while the accessory draws, 0 for what is drawn over it later.
        self.mask: ImageDraw.ImageDraw | None = None
        self.mask_ink = 0

    def place(self, cx: float, cy: float, half_width: float, tilt_degrees: float) -> None:
        a = math.radians(tilt_degrees)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        self.matrix, self.offset, self.unit = rot * half_width, np.array([cx, cy]), half_width

    def px(self, points: np.ndarray) -> list[float]:
        return (np.asarray(points) @ self.matrix.T + self.offset).ravel().tolist()

    def polygon(self, points: np.ndarray, fill: Colour, outline: Colour | None = None, width: float = 0.0) -> None:
        pixels = self.px(points)
        self.draw.polygon(pixels, fill=fill)
        if self.mask is not None:
            self.mask.polygon(pixels, fill=self.mask_ink)
        if outline is not None and width > 0:
            self.line(np.vstack([points, points[:1]]), outline, width)

    def line(self, points: np.ndarray, fill: Colour, width: float) -> None:
        pixels, pixel_width = self.px(points), max(1, round(width * self.unit))
        self.draw.line(pixels, fill=fill, width=pixel_width, joint="curve")
        if self.mask is not None:
            self.mask.line(pixels, fill=self.mask_ink, width=pixel_width, joint="curve")

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: Colour, **kw) -> None:
        self.polygon(_arc(cx, cy, rx, ry), fill, **kw)


# -------------------------------------------------------------------------------- backgrounds
def _background(rng: np.random.Generator, size: int) -> Image.Image:
    kind = rng.integers(4)
    small = size // 2  # smooth fields are computed small and enlarged, which is much cheaper
    if kind == 0:  # smooth colour field from a few random control colours
        grid = rng.integers(0, 256, size=(rng.integers(2, 5), rng.integers(2, 5), 3), dtype=np.uint8)
        return _with_clutter(Image.fromarray(grid).resize((size, size), Image.BILINEAR), rng)
    c0, c1 = np.array(palette_colour(rng)[:3], np.float32), np.array(palette_colour(rng)[:3], np.float32)
    a = rng.random() * 2 * math.pi
    if kind == 1:  # linear gradient between two colours
        ramp = np.linspace(-0.5, 0.5, small, dtype=np.float32)
        t = np.clip(0.5 + ramp[None, :] * math.cos(a) + ramp[:, None] * math.sin(a), 0, 1)[..., None]
        field = Image.fromarray((c0 + (c1 - c0) * t).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    elif kind == 2:  # stripes or checks
        period = rng.uniform(3, 20)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        u = np.sin((xx * math.cos(a) + yy * math.sin(a)) * (2 * math.pi / period))
        if rng.random() < 0.4:
            u = u * np.sin((yy * math.cos(a) - xx * math.sin(a)) * (2 * math.pi / period))
        t = (u > 0).astype(np.float32)[..., None] * rng.uniform(0.4, 1.0)
        field = Image.fromarray((c0 + (c1 - c0) * t).astype(np.uint8))
    else:  # coarse noise texture
        n = rng.integers(6, 24)
        grid = (c0 * 0.6 + rng.integers(0, 256, size=(n, n, 3)) * 0.4).astype(np.uint8)
        field = Image.fromarray(grid).resize((size, size), Image.NEAREST if rng.random() < 0.5 else Image.BILINEAR)
    return _with_clutter(field, rng)


def _with_clutter(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    size = image.size[0]
    draw = ImageDraw.Draw(image, "RGBA")
    for _ in range(rng.integers(0, 7)):  # clutter: shapes of any colour, dark blobs included
        x, y = rng.uniform(-0.1, 1.1, size=2) * size
        w, h = rng.uniform(0.05, 0.35, size=2) * size
        box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
        colour = palette_colour(rng, alpha=int(rng.integers(120, 256)))
        shape = rng.integers(3)
        if shape == 0:
            draw.rectangle(box, fill=colour)
        elif shape == 1:
            draw.ellipse(box, fill=colour)
        else:
            draw.polygon([tuple(p) for p in rng.uniform(-0.1, 1.1, size=(3, 2)) * size], fill=colour)
    return image


# ------------------------------------------------------------------------------------- people
HAIR_STYLES = ("short", "long", "bald", "curly", "afro", "bob", "fringe", "bun")
EXPRESSIONS = ("smile", "neutral", "open", "frown", "grin")


class Face:
    """The sampled look of one person, shared by the drawing functions below."""

    def __init__(self, rng: np.random.Generator):
        self.height = rng.uniform(1.22, 1.45)  # half-height in units of half-width
        self.jaw = rng.uniform(0.75, 1.0)  # < 1 narrows the chin
        self.skin = _mix(SKIN_TONES, rng, 0.06)
        dyed = rng.random() < 0.12
        self.hair = palette_colour(rng) if dyed else _mix(HAIR_COLOURS, rng, 0.1)
        self.hair_style = _pick(rng, HAIR_STYLES)
        self.eye_y = rng.uniform(-0.18, -0.02) * self.height
        self.eye_dx = rng.uniform(0.36, 0.46)
        self.iris = _mix(HAIR_COLOURS[:6], rng, 0.2) if rng.random() < 0.7 else palette_colour(rng)
        self.expression = _pick(rng, EXPRESSIONS)
        self.eyes_closed = rng.random() < 0.08

    def outline(self) -> np.ndarray:
        upper = _arc(0, 0, 1.0, self.height, 180, 360, 18)
        lower = _arc(0, 0, 1.0, self.height, 0, 180, 18)
        lower[:, 0] *= 1 - (1 - self.jaw) * np.clip(lower[:, 1] / self.height, 0, 1)
        return np.vstack([upper, lower])


def _draw_body(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    clothes = palette_colour(rng)
    h = face.height
    c.polygon(np.array([[-0.35, h * 0.6], [0.35, h * 0.6], [0.4, h * 1.3], [-0.4, h * 1.3]]), _shade(face.skin, 0.9))
    c.polygon(
        np.array([[-0.45, h * 1.05], [0.45, h * 1.05], [2.4, h * 1.5], [2.6, h * 3], [-2.6, h * 3], [-2.4, h * 1.5]]),
        clothes,
    )
    if rng.random() < 0.25:  # scarf or collar, any colour
        c.polygon(_arc(0, h * 1.12, 0.9, 0.25), palette_colour(rng))


def _draw_hair_back(c: Canvas, face: Face) -> None:
    h = face.height
    if face.hair_style == "long":
        c.polygon(
            np.vstack([_arc(0, -0.1, 1.25, h * 1.05, 180, 360, 16), [[1.3, h * 1.25], [-1.3, h * 1.25]]]), face.hair
        )
    elif face.hair_style == "afro":
        c.ellipse(0, -0.35 * h, 1.6, h * 1.05, face.hair)
    elif face.hair_style == "bob":
        c.polygon(
            np.vstack([_arc(0, -0.05, 1.2, h * 1.05, 180, 360, 16), [[1.2, h * 0.55], [-1.2, h * 0.55]]]), face.hair
        )


def _draw_head(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    h = face.height
    for side in (-1, 1):
        c.ellipse(side * 0.98, face.eye_y + 0.15, 0.16, 0.28, _shade(face.skin, 0.93))
    c.polygon(face.outline(), face.skin)
    if rng.random() < 0.5:  # cheek shading under side light
        side = _pick(rng, (-1, 1))
        c.polygon(_arc(side * 0.55, 0.1 * h, 0.45, h * 0.7, 0, 360, 16), _alpha(_shade(face.skin, 0.9), 90))


def _draw_hair_front(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    h, style, hair = face.height, face.hair_style, face.hair
    if style == "bald":
        return
    if style == "curly":
        for t in np.linspace(190, 350, 9):
            x, y = math.cos(math.radians(t)) * 0.95, math.sin(math.radians(t)) * h * 0.95
            c.ellipse(x, y, 0.28, 0.28, hair)
        return
    hairline = -rng.uniform(0.45, 0.65) * h * 0.35
    cap = np.vstack([_arc(0, 0, 1.04, h * 1.04, 180, 360, 20), [[1.02, hairline], [-1.02, hairline]]])
    cap[:, 1] = np.minimum(cap[:, 1], hairline)
    c.polygon(cap, hair)
    if style == "fringe":
        c.polygon(np.array([[-0.95, -0.5 * h], [0.95, -0.5 * h], [0.8, -0.3 * h], [-0.8, -0.3 * h]]), hair)
    elif style == "bun":  # a round shape on top of the head: a hat-like distractor
        c.ellipse(rng.uniform(-0.3, 0.3), -h * 1.1, 0.4, 0.35, hair)
    elif style == "short" and rng.random() < 0.5:  # side parting
        side = _pick(rng, (-1, 1))
        c.polygon(np.array([[side * 0.2, -h], [side * 1.0, -0.4 * h], [side * 0.9, -0.75 * h]]), _shade(hair, 1.15))


def _draw_eye(c: Canvas, face: Face, x: float, gaze: float) -> None:
    if face.eyes_closed:
        c.line(_arc(x, face.eye_y, 0.13, 0.05, 0, 180, 8), _shade(face.skin, 0.5), 0.03)
    else:
        c.ellipse(x, face.eye_y, 0.15, 0.08, (245, 245, 240, 255))
        c.ellipse(x + gaze, face.eye_y, 0.07, 0.07, face.iris)
        c.ellipse(x + gaze, face.eye_y, 0.035, 0.035, (10, 10, 10, 255))


def _draw_features(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    h, ey, dx = face.height, face.eye_y, face.eye_dx
    brow = _shade(face.hair, 0.8) if face.hair_style != "bald" else _shade(face.skin, 0.6)
    lift = rng.uniform(-0.04, 0.06)
    for side in (-1, 1):
        x = side * dx
        c.line(
            np.array([[x - 0.17, ey - 0.17 + lift], [x, ey - 0.22 - lift], [x + 0.17, ey - 0.17 + lift]]), brow, 0.05
        )
        _draw_eye(c, face, x, 0.0 if face.eyes_closed else rng.uniform(-0.04, 0.04))
    c.line(np.array([[0.0, ey + 0.05], [-0.08, ey + 0.38], [0.06, ey + 0.42]]), _shade(face.skin, 0.7), 0.035)
    my = ey + rng.uniform(0.62, 0.78)
    lips = _shade(face.skin, 0.65) if rng.random() < 0.6 else palette_colour(rng)
    width = rng.uniform(0.22, 0.34)
    if face.expression == "smile":
        c.line(_arc(0, my - 0.08, width, 0.12, 20, 160, 10), lips, 0.05)
    elif face.expression == "grin":
        c.polygon(_arc(0, my - 0.04, width, 0.12, 0, 180, 12), (250, 250, 245, 255), outline=lips, width=0.04)
    elif face.expression == "open":
        c.ellipse(0, my, width * 0.55, 0.1, (70, 20, 25, 255), outline=lips, width=0.04)
    elif face.expression == "frown":
        c.line(_arc(0, my + 0.08, width, 0.1, 200, 340, 10), lips, 0.05)
    else:
        c.line(np.array([[-width, my], [width, my]]), lips, 0.05)
    if rng.random() < 0.2:  # beard
        c.polygon(
            np.vstack(
                [_arc(0, 0, 1.0, h, 10, 170, 14)[:, :2] * [face.jaw, 1], _arc(0, my, width + 0.1, 0.12, 180, 0, 8)]
            ),
            _alpha(_shade(face.hair, 0.9), 230),
        )
    if rng.random() < 0.15:  # earrings
        colour = palette_colour(rng)
        for side in (-1, 1):
            c.ellipse(side * 1.02, ey + 0.45, 0.07, 0.07, colour)


# --------------------------------------------------------------------------------- eyewear
LENS_SHAPES = ("round", "rectangle", "aviator", "cat_eye", "wayfarer", "oval")


def _lens(shape: str, x: float, y: float, side: int, r: float) -> np.ndarray:
    if shape == "round":
        return _arc(x, y, r, r, n=20)
    if shape == "oval":
        return _arc(x, y, r * 1.15, r * 0.8, n=20)
    if shape == "rectangle":
        return np.array(
            [
                [x - r * 1.15, y - r * 0.7],
                [x + r * 1.15, y - r * 0.7],
                [x + r * 1.15, y + r * 0.7],
                [x - r * 1.15, y + r * 0.7],
            ]
        )
    if shape == "aviator":  # a teardrop, wider at the top outer corner
        pts = _arc(x, y, r * 1.1, r * 0.95, n=20)
        pts[:, 1] += np.where(pts[:, 1] > y, 0.3 * r * (1 - side * (pts[:, 0] - x) / r) / 2, 0)
        return pts
    if shape == "cat_eye":
        pts = _arc(x, y, r * 1.15, r * 0.75, n=20)
        outer = side * (pts[:, 0] - x) > 0.4 * r
        pts[outer & (pts[:, 1] < y), 1] -= 0.35 * r
        return pts
    # wayfarer: trapezoid, wider at the top
    return np.array(
        [
            [x - r * 1.2, y - r * 0.75],
            [x + r * 1.2, y - r * 0.75],
            [x + r * 0.95, y + r * 0.7],
            [x - r * 0.95, y + r * 0.7],
        ]
    )


def _draw_eyewear(c: Canvas, face: Face, rng: np.random.Generator, dark: bool) -> None:
    """Sunglasses (``dark``: opaque tinted or mirrored lenses) or clear eyeglasses."""
    shape = _pick(rng, LENS_SHAPES)
    r = rng.uniform(0.2, 0.3)
    frame = palette_colour(rng)
    thickness = rng.uniform(0.015, 0.07)
    if dark:
        if rng.random() < 0.25:  # mirrored: bright, reflective, still hides the eyes
            lens = palette_colour(rng)
            lens = _shade(lens, 1.6) if sum(lens[:3]) < 300 else lens
        else:
            lens = _shade(palette_colour(rng), rng.uniform(0.1, 0.45))
        lens = _alpha(lens, int(rng.integers(225, 256)))
    else:
        lens = _alpha(_shade(palette_colour(rng), 1.2), int(rng.integers(0, 45)))
    y = face.eye_y + rng.uniform(-0.02, 0.05)
    for side in (-1, 1):
        x = side * (face.eye_dx + rng.uniform(-0.02, 0.02))
        pts = _lens(shape, x, y, side, r)
        c.polygon(pts, lens, outline=frame, width=thickness)
        if dark and rng.random() < 0.6:  # glint
            c.line(np.array([[x - r * 0.5, y - r * 0.3], [x - r * 0.1, y - r * 0.55]]), (255, 255, 255, 170), 0.03)
        c.line(np.array([[side * (face.eye_dx + r), y - r * 0.3], [side * 1.0, y - 0.05]]), frame, thickness)
    c.line(
        np.array([[-face.eye_dx + r * 0.9, y - r * 0.2], [0, y - r * 0.4], [face.eye_dx - r * 0.9, y - r * 0.2]]),
        frame,
        thickness,
    )


def _sunglasses(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    _draw_eyewear(c, face, rng, dark=True)


def _clear_glasses(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    _draw_eyewear(c, face, rng, dark=False)


# -------------------------------------------------------------------------------------- hats
HAT_STYLES = ("cap", "beanie", "sun_hat", "cowboy", "top_hat", "fedora", "bucket")


def _draw_hat(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    h = face.height
    colour = palette_colour(rng)
    band = palette_colour(rng) if rng.random() < 0.6 else _shade(colour, 0.6)
    style = _pick(rng, HAT_STYLES)
    low = -h * rng.uniform(0.38, 0.55)  # where the hat meets the forehead
    if style == "cap":
        c.polygon(np.vstack([_arc(0, low, 1.08, h * 0.62, 180, 360, 18)]), colour)
        bill = _pick(rng, (-1, 0, 1))
        c.polygon(
            _arc(bill * 0.6, low + 0.02, 0.95 if bill == 0 else 0.8, 0.17, 0, 180, 14)
            if bill == 0
            else _arc(bill * 0.9, low - 0.02, 0.85, 0.14),
            _shade(colour, 0.8),
        )
        c.ellipse(0, low - h * 0.6, 0.08, 0.06, _shade(colour, 0.7))
    elif style == "beanie":
        c.polygon(_arc(0, low, 1.1, h * 0.68, 180, 360, 18), colour)
        c.polygon(np.array([[-1.12, low - 0.22], [1.12, low - 0.22], [1.12, low + 0.05], [-1.12, low + 0.05]]), band)
        for x in np.linspace(-0.95, 0.95, 9):
            c.line(np.array([[x, low - 0.2], [x, low + 0.03]]), _shade(band, 0.75), 0.03)
        if rng.random() < 0.5:
            c.ellipse(0, low - h * 0.7, 0.25, 0.22, palette_colour(rng))
    elif style == "sun_hat":
        c.polygon(_arc(0, low, rng.uniform(1.7, 2.2), rng.uniform(0.25, 0.4)), colour)
        c.polygon(_arc(0, low - 0.05, 1.05, h * 0.6, 180, 360, 18), _shade(colour, 1.08))
        c.polygon(np.array([[-1.05, low - 0.22], [1.05, low - 0.22], [1.05, low - 0.05], [-1.05, low - 0.05]]), band)
    elif style == "cowboy":
        brim = _arc(0, low, 2.0, 0.3)
        brim[:, 1] -= 0.35 * (np.abs(brim[:, 0]) / 2.0) ** 2  # upturned sides
        c.polygon(brim, colour)
        c.polygon(
            np.array(
                [
                    [-0.95, low],
                    [-0.85, low - h * 0.75],
                    [-0.2, low - h * 0.85],
                    [0, low - h * 0.7],
                    [0.2, low - h * 0.85],
                    [0.85, low - h * 0.75],
                    [0.95, low],
                ]
            ),
            _shade(colour, 1.08),
        )
        c.polygon(np.array([[-0.95, low - 0.2], [0.95, low - 0.2], [0.95, low - 0.02], [-0.95, low - 0.02]]), band)
    elif style == "top_hat":
        tall = h * rng.uniform(0.9, 1.3)
        c.polygon(np.array([[-0.85, low], [-0.8, low - tall], [0.8, low - tall], [0.85, low]]), colour)
        c.polygon(np.array([[-0.86, low - 0.28], [0.86, low - 0.28], [0.86, low - 0.05], [-0.86, low - 0.05]]), band)
        c.polygon(_arc(0, low, 1.35, 0.14), _shade(colour, 0.85))
    elif style == "fedora":
        c.polygon(_arc(0, low, rng.uniform(1.45, 1.75), 0.22), _shade(colour, 0.9))
        c.polygon(
            np.array([[-0.9, low], [-0.75, low - h * 0.7], [0, low - h * 0.6], [0.75, low - h * 0.7], [0.9, low]]),
            colour,
        )
        c.polygon(np.array([[-0.9, low - 0.22], [0.9, low - 0.22], [0.9, low - 0.04], [-0.9, low - 0.04]]), band)
    else:  # bucket
        c.polygon(
            np.array([[-1.45, low + 0.3], [-0.95, low - 0.1], [0.95, low - 0.1], [1.45, low + 0.3]]),
            _shade(colour, 0.9),
        )
        c.polygon(
            np.array([[-0.95, low - 0.05], [-0.75, low - h * 0.62], [0.75, low - h * 0.62], [0.95, low - 0.05]]), colour
        )


def _draw_headband(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    """Band, bow or flower on the hair: a hat-coloured shape on the head that is not a hat."""
    h, colour = face.height, palette_colour(rng)
    kind = rng.integers(3)
    if kind == 0:
        arc = _arc(0, -0.1 * h, 1.02, h * 0.95, 200, 340, 14)
        c.line(arc, colour, rng.uniform(0.06, 0.18))
    elif kind == 1:
        x = rng.uniform(-0.6, 0.6)
        c.polygon(np.array([[x, -h * 0.95], [x - 0.35, -h * 1.15], [x - 0.35, -h * 0.75]]), colour)
        c.polygon(np.array([[x, -h * 0.95], [x + 0.35, -h * 1.15], [x + 0.35, -h * 0.75]]), colour)
    else:
        x = _pick(rng, (-0.7, 0.7))
        for t in range(0, 360, 72):
            c.ellipse(
                x + 0.13 * math.cos(math.radians(t)), -0.75 * h + 0.13 * math.sin(math.radians(t)), 0.11, 0.11, colour
            )
        c.ellipse(x, -0.75 * h, 0.07, 0.07, palette_colour(rng))


# ---------------------------------------------------------------------------- more accessories
def _eye_patch(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    side = _pick(rng, (-1, 1))
    colour = _shade(palette_colour(rng), rng.uniform(0.2, 1.0))
    c.line(
        np.array([[-1.0, face.eye_y - 0.45], [side * face.eye_dx, face.eye_y], [1.0 * side, face.eye_y + 0.05]]),
        colour,
        0.035,
    )
    c.ellipse(side * face.eye_dx, face.eye_y + 0.02, 0.22, 0.18, colour)


def _face_mask(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    colour = palette_colour(rng)
    top = face.eye_y + 0.3
    c.polygon(np.vstack([[[-0.95, top], [0.95, top]], _arc(0, top, 0.9 * face.jaw, 0.75, 0, 180, 12)]), colour)
    for y in (0.15, 0.35):
        c.line(np.array([[-0.7, top + y], [0.7, top + y]]), _shade(colour, 0.8), 0.025)


def _full_beard(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    h = face.height
    colour = _shade(face.hair, rng.uniform(0.7, 1.1))
    c.polygon(
        np.vstack(
            [_arc(0, 0, 1.02, h, 0, 180, 16) * [face.jaw, 1.08], [[-1.0, face.eye_y + 0.35], [1.0, face.eye_y + 0.35]]]
        ),
        colour,
    )
    c.ellipse(0, face.eye_y + 0.72, 0.2, 0.07, _shade(face.skin, 0.6))


def _mustache(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    y = face.eye_y + rng.uniform(0.5, 0.56)
    colour = _shade(face.hair, rng.uniform(0.6, 1.0))
    c.polygon(
        np.array([[0, y - 0.05], [0.38, y + 0.02], [0.3, y + 0.1], [0, y + 0.04], [-0.3, y + 0.1], [-0.38, y + 0.02]]),
        colour,
    )


def _headphones(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    h, colour = face.height, palette_colour(rng)
    c.line(_arc(0, face.eye_y, 1.12, h * 1.05, 185, 355, 14), colour, rng.uniform(0.07, 0.14))
    for side in (-1, 1):
        c.ellipse(side * 1.05, face.eye_y + 0.15, 0.2, 0.33, _shade(colour, 0.8))


def _big_earrings(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    colour = palette_colour(rng)
    for side in (-1, 1):
        c.line(_arc(side * 1.02, face.eye_y + 0.6, 0.16, 0.2, n=16), colour, 0.045)


def _bow_tie(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    y, colour = face.height * 1.15, palette_colour(rng)
    c.polygon(np.array([[0, y], [-0.45, y - 0.22], [-0.45, y + 0.22]]), colour)
    c.polygon(np.array([[0, y], [0.45, y - 0.22], [0.45, y + 0.22]]), colour)
    c.ellipse(0, y, 0.09, 0.09, _shade(colour, 0.7))


def _neck_scarf(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    colour = palette_colour(rng)
    y = face.height * 1.05
    c.polygon(np.array([[-0.9, y - 0.2], [0.9, y - 0.2], [1.0, y + 0.35], [-1.0, y + 0.35]]), colour)
    c.polygon(np.array([[0.3, y + 0.2], [0.65, y + 0.2], [0.6, y + 1.0], [0.3, y + 0.95]]), _shade(colour, 0.85))


def _sleep_mask(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    """One band of cloth over both eyes: eyes hidden, as by sunglasses, but no lenses, frame or bridge."""
    colour = palette_colour(rng)
    y, half = face.eye_y + rng.uniform(-0.02, 0.04), rng.uniform(0.18, 0.27)
    c.line(np.array([[-1.05, y - 0.12], [1.05, y - 0.12]]), _shade(colour, 0.7), 0.05)  # strap
    c.polygon(
        np.vstack([_arc(-0.48, y, 0.52, half, 90, 270, 10), _arc(0.48, y, 0.52, half, -90, 90, 10)]),
        colour,
        outline=palette_colour(rng) if rng.random() < 0.5 else None,
        width=0.04,
    )


def _face_paint(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    """Paint or a domino mask around the eyes, which stay visible: colour at the eyes does not hide them."""
    colour = _alpha(palette_colour(rng), int(rng.integers(170, 256)))
    ey, dx = face.eye_y, face.eye_dx
    if rng.random() < 0.5:  # a domino mask across both eyes
        c.polygon(np.vstack([_arc(-dx, ey, 0.3, 0.2, 90, 270, 10), _arc(dx, ey, 0.3, 0.2, -90, 90, 10)]), colour)
    else:
        for side in (-1, 1):
            c.ellipse(side * dx, ey - 0.03, rng.uniform(0.22, 0.3), rng.uniform(0.14, 0.2), colour)
    gaze = rng.uniform(-0.04, 0.04)
    for side in (-1, 1):
        _draw_eye(c, face, side * dx, gaze)


def _headscarf(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    """Cloth over the hair, down to the jaw: it covers the head, but has no crown, brim or band."""
    h, colour = face.height, palette_colour(rng)
    front = -h * rng.uniform(0.35, 0.55)  # where it meets the forehead
    depth = 0.15 * h - front
    outline = np.vstack(
        [
            _arc(0, 0.05 * h, 1.2, h * 1.12, 180, 360, 18),
            [[1.12, 0.75 * h]],
            _arc(0, 0.15 * h, 0.9, depth, 60, -240, 20),
            [[-1.12, 0.75 * h]],
        ]
    )
    c.polygon(outline, colour)
    if rng.random() < 0.6:  # knot under the chin
        c.ellipse(0, h * 1.02, 0.16, 0.12, _shade(colour, 0.85))
        c.polygon(np.array([[0, h * 1.02], [-0.3, h * 1.4], [0.05, h * 1.35]]), _shade(colour, 0.9))


def _nothing(c: Canvas, face: Face, rng: np.random.Generator) -> None:
    pass


Accessory = Callable[[Canvas, Face, np.random.Generator], None]

#: Everything a portrait can wear, by name. Which names make a class is the tasks' business
#: (:mod:`helpers.tasks`); drawing one never depends on the task it is drawn for.
ACCESSORIES: dict[str, Accessory] = {
    "bow_tie": _bow_tie,
    "clear_glasses": _clear_glasses,
    "earrings": _big_earrings,
    "eye_patch": _eye_patch,
    "face_mask": _face_mask,
    "face_paint": _face_paint,
    "full_beard": _full_beard,
    "hair_band": _draw_headband,
    "hat": _draw_hat,
    "headscarf": _headscarf,
    "headphones": _headphones,
    "mustache": _mustache,
    "nothing": _nothing,
    "scarf": _neck_scarf,
    "sleep_mask": _sleep_mask,
    "sunglasses": _sunglasses,
}
#: Worn on the face itself, so drawn before the hair's front (a fringe falls over them).
UNDER_HAIR = frozenset({"eye_patch", "face_mask", "full_beard", "mustache"})


# ------------------------------------------------------------------------------------ camera
@functools.lru_cache(maxsize=4)
def _noise_bank(size: int) -> np.ndarray:
    """Fixed sensor-noise tiles; each photo takes a random tile at a random offset (cheap, still varied)."""
    return np.random.default_rng(1234).standard_normal((8, size, size, 3), dtype=np.float32)


def _photograph(image: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """Lighting, colour cast, contrast, blur, sensor noise and JPEG compression, as a camera would add."""
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.BoxBlur(rng.uniform(0.4, 1.0)))
    pixels = np.asarray(image, dtype=np.float32)
    size = pixels.shape[0]
    a = rng.random() * 2 * math.pi
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32) * rng.uniform(0, 0.6)
    light = 1 + ramp[None, :] * math.cos(a) + ramp[:, None] * math.sin(a)
    contrast = rng.uniform(0.75, 1.2)
    gain = (rng.uniform(0.6, 1.25) * contrast * (1 + rng.normal(0, 0.06, size=3))).astype(np.float32)
    # Lighting, colour cast and contrast about the mean brightness, in place. The factor is filled
    # channel by channel: broadcasting over a last axis of 3 is three times slower.
    offset = float(pixels.mean()) * (1 - contrast)
    factor = np.empty_like(pixels)
    for channel in range(3):
        factor[..., channel] = light * gain[channel]
    pixels *= factor
    pixels += offset
    if rng.random() < 0.6:
        tile = _noise_bank(size)[rng.integers(8)]
        pixels += np.roll(tile, rng.integers(size), axis=int(rng.integers(2))) * rng.uniform(2, 9)
    pixels = np.clip(pixels, 0, 255, out=pixels).astype(np.uint8)
    if rng.random() < 0.7:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(rng.integers(30, 95)))
        pixels = np.asarray(Image.open(buffer))  # an RGB JPEG decodes to RGB
    return pixels


def _night_camera(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A low-light camera's picture of the same scene: dim green monochrome with heavy sensor noise.

    No colour, little contrast, much noise: what the bundled base never saw in pretraining, which
    gives fine-tuning something to adapt to (the lectures' shifted domain).
    """
    luminance = pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    luminance = luminance * rng.uniform(0.35, 0.6) + rng.uniform(5, 25)
    luminance += rng.standard_normal(luminance.shape, dtype=np.float32) * rng.uniform(8, 16)
    tinted = luminance[..., None] * np.array([0.35, 1.0, 0.45], np.float32)
    return np.clip(tinted, 0, 255).astype(np.uint8)


#: How the picture is taken: ``"daylight"`` (the source task's camera) or ``"night"`` (a shifted domain).
CAMERAS = ("daylight", "night")


# ------------------------------------------------------------------------------- the portrait
#: What :func:`render_portrait` drew, one named field each: the face's centre and half-width as
#: fractions of the image side, its tilt in units of 30 degrees, the hair style and expression
#: (indices into ``HAIR_STYLES`` and ``EXPRESSIONS``), the hair colour (red, green, blue, 0..1)
#: and the second accessory (set by the task that draws one; -1 for none).
PORTRAIT_ATTRIBUTES = np.dtype(
    [
        ("face_x", np.float32),
        ("face_y", np.float32),
        ("face_half_width", np.float32),
        ("tilt", np.float32),
        ("hair_style", np.int8),
        ("expression", np.int8),
        ("hair_colour", np.float32, (3,)),
        ("second_accessory", np.int8),
    ]
)


def render_portrait(
    rng: np.random.Generator,
    size: int,
    accessory: str,
    distractor: str | None = None,
    *,
    camera: str = "daylight",
    return_mask: bool = False,
):
    """Draw one portrait wearing ``accessory`` (and an optional ``distractor``), both names in ``ACCESSORIES``.

    ``camera`` (one of ``CAMERAS``) takes the picture; a daylight picture is drawn the same way
    whatever other cameras exist, so every daylight image stays what it was.

    Returns
    -------
    image : ndarray of uint8, shape (size, size, 3)
    attributes : numpy record of ``PORTRAIT_ATTRIBUTES``
        What was drawn, read by name: ``attributes["face_x"]``.
    mask : ndarray of bool, shape (size, size)
        Only with ``return_mask=True``: the pixels where ``accessory`` shows (what is drawn over it,
        such as a fringe over a beard, is not). Recording it draws nothing else and takes nothing
        from ``rng``, so the image is the same either way.

    Examples
    --------
    >>> image, attributes = render_portrait(np.random.default_rng(0), 64, "hat")
    >>> image.shape, HAIR_STYLES[attributes["hair_style"]]
    ((64, 64, 3), 'bob')
    """
    for name in (accessory, distractor):
        if name is not None and name not in ACCESSORIES:
            raise ValueError(f"unknown accessory {name!r}; choose from {sorted(ACCESSORIES)}")
    if camera not in CAMERAS:
        raise ValueError(f"unknown camera {camera!r}; choose from {CAMERAS}")
    big = size * 2
    # The background is made at the output size, the person drawn at twice that and reduced (anti-aliasing).
    canvas = Canvas(big, _background(rng, size).resize((big, big), Image.BILINEAR))
    face = Face(rng)
    half_width = big * rng.uniform(0.2, 0.32)
    cx = big * rng.uniform(0.3, 0.7)
    cy = big * rng.uniform(0.42, 0.66)
    tilt = rng.normal(0, 9)
    canvas.place(cx, cy, half_width, tilt)
    attributes = np.zeros((), PORTRAIT_ATTRIBUTES)
    attributes["face_x"], attributes["face_y"], attributes["face_half_width"] = cx / big, cy / big, half_width / big
    attributes["tilt"] = tilt / 30
    attributes["hair_style"] = HAIR_STYLES.index(face.hair_style)
    attributes["expression"] = EXPRESSIONS.index(face.expression)
    attributes["hair_colour"] = tuple(channel / 255 for channel in face.hair[:3])
    attributes["second_accessory"] = -1
    over_hair = accessory not in UNDER_HAIR
    mask = Image.new("L", (big, big), 0) if return_mask else None

    def wear_accessory():
        canvas.mask, canvas.mask_ink = (ImageDraw.Draw(mask) if mask is not None else None), 255
        ACCESSORIES[accessory](canvas, face, rng)
        canvas.mask_ink = 0  # from now on, what is drawn hides the accessory

    _draw_hair_back(canvas, face)
    _draw_body(canvas, face, rng)
    _draw_head(canvas, face, rng)
    _draw_features(canvas, face, rng)
    if not over_hair:
        wear_accessory()
    _draw_hair_front(canvas, face, rng)
    if distractor is not None:
        ACCESSORIES[distractor](canvas, face, rng)
    if over_hair:
        wear_accessory()
    image = canvas.image.reduce(2)
    pixels = _photograph(image, rng)
    pixels = _night_camera(pixels, rng) if camera == "night" else pixels
    if mask is not None:
        return pixels, attributes[()], np.asarray(mask.reduce(2)) >= 128
    return pixels, attributes[()]


def head_boxes(attributes: np.ndarray, image_size: int) -> np.ndarray:
    """Pixel boxes ``(top, bottom, left, right)`` around each drawn head and whatever it wears.

    From the face's position and size in ``attributes`` (``PORTRAIT_ATTRIBUTES`` records): tall
    enough above the face for a top hat, wide enough for a sun hat's brim, down to the chin.

    Examples
    --------
    >>> _, attributes = render_portrait(np.random.default_rng(0), 96, "hat")
    >>> head_boxes(attributes[None], 96).shape
    (1, 4)
    """
    attributes = np.asarray(attributes)
    cx, cy, half_width = (attributes[name] * image_size for name in ("face_x", "face_y", "face_half_width"))
    boxes = np.stack([cy - 3.2 * half_width, cy + 1.5 * half_width, cx - 2.1 * half_width, cx + 2.1 * half_width], 1)
    return np.clip(np.round(boxes), 0, image_size).astype(int)


#: Where each target accessory can be, in the face frame (half face widths from the face centre,
#: y down): ``(left, right, top, bottom)``. Wide and tall enough for every shape drawn above: a
#: sun hat's brim, a top hat's crown, lenses of every size at every eye height. The hat's region
#: ends where the lenses' begins, at the eye line: a bucket hat's or a cap's brim may reach lower,
#: but a heatmap on the bare eyes must not count as one on the hat. The lenses' region is where
#: the eyes are, with or without sunglasses.
ACCESSORY_REGIONS = {"sunglasses": (-0.85, 0.85, -0.6, 0.35), "hat": (-2.2, 2.2, -2.8, -0.6)}


def accessory_boxes(attributes: np.ndarray, accessories, image_size: int) -> np.ndarray:
    """Pixel boxes ``(top, bottom, left, right)`` around where each portrait's accessory was drawn.

    ``accessories`` names each portrait's accessory (a key of ``ACCESSORY_REGIONS``); the region
    is placed, scaled and tilted with the face, then boxed.

    Examples
    --------
    >>> _, attributes = render_portrait(np.random.default_rng(0), 96, "sunglasses")
    >>> top, bottom, left, right = accessory_boxes(attributes[None], ["sunglasses"], 96)[0]
    >>> bool(top < attributes["face_y"] * 96 < bottom and left < attributes["face_x"] * 96 < right)
    True
    """
    attributes = np.asarray(attributes)
    boxes = []
    for record, accessory in zip(attributes, accessories, strict=True):
        if accessory not in ACCESSORY_REGIONS:
            raise ValueError(f"no region for accessory {accessory!r}; known: {sorted(ACCESSORY_REGIONS)}")
        left, right, top, bottom = ACCESSORY_REGIONS[accessory]
        corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
        angle = math.radians(float(record["tilt"]) * 30)
        rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        pixels = (corners @ rotation.T * record["face_half_width"] + (record["face_x"], record["face_y"])) * image_size
        boxes.append([pixels[:, 1].min(), pixels[:, 1].max(), pixels[:, 0].min(), pixels[:, 0].max()])
    return np.clip(np.round(np.array(boxes)), 0, image_size).astype(int)
