"""A procedural world of small captioned images: the pretraining data of the embedded tiny CLIP and its built-in data sets.

Everything is drawn with Pillow and numpy from a seed, so the same seed always gives the same images and captions and no
file or network is needed. Images are 32×32 RGB. A scene is a *glyph* (a digit, printed or handwritten in several
templates and random affine distortions, a printed letter, or a geometric shape) of some colour, size, position and rotation
on a textured background, with optional blur and noise; its caption names what is there ("a small red handwritten digit
seven on a striped blue background"), dropping attributes at random so the model also learns short prompts such as "a photo
of a digit seven.".

Some styles are *held out* of pretraining (``HELD_OUT_*``): the ``glyphs`` data set draws from them so that the model is
out of its pretraining distribution there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "BACKGROUNDS",
    "COLORS",
    "DIGIT_NAMES",
    "HELD_OUT_BACKGROUNDS",
    "HELD_OUT_COLORS",
    "IMAGE_SIZE",
    "LETTERS",
    "SHAPES",
    "Scene",
    "caption_for",
    "render_digit_like_sklearn",
    "render_scene",
    "render_sklearn_like",
    "sample_scene",
    "sklearn_like_scene",
    "vocabulary",
]

IMAGE_SIZE = 32
_CANVAS = 64  # glyph masks are drawn at 2× and downsampled, for anti-aliasing

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond", "hexagon", "ring", "pentagon", "arrow")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")  # printed capitals; named "letter a" … "letter z"
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 215, 50),
    "orange": (240, 140, 30),
    "purple": (140, 60, 190),
    "pink": (240, 130, 180),
    "cyan": (60, 210, 220),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
    "brown": (130, 80, 40),
}
BACKGROUNDS = (
    "plain",
    "striped",
    "dotted",
    "checkered",
    "noisy",
    "gradient",
    "zigzag",
    "diagonal",
    "circles",
)
DIGIT_STYLES = ("printed", "handwritten", "blurry")
LETTER_STYLES = ("printed", "bold", "italic")
SIZES = ("small", "medium", "large")
POSITIONS = ("left", "right", "top", "bottom", "center")

# Styles never seen in pretraining; the `glyphs` data set uses them.
HELD_OUT_COLORS: dict[str, tuple[int, int, int]] = {
    "teal": (0, 128, 128),
    "olive": (128, 128, 0),
    "maroon": (128, 0, 32),
    "navy": (20, 20, 110),
    "salmon": (250, 128, 114),
    "lime": (160, 230, 40),
}
HELD_OUT_BACKGROUNDS = ("waves", "grid", "speckled")

_PREFIXES = (
    "a",
    "a photo of a",
    "a photo of the",
    "an image of a",
    "a picture of a",
    "a drawing of a",
    "this is a",
    "there is a",
    "a rendering of a",
)
_FILLER = (
    "here", "we", "see", "the", "photo", "image", "picture", "of", "a", "this", "is", "nice", "simple", "clean",
    "little", "scene", "showing", "with", "an", "example",
)  # fmt: skip


@dataclass(frozen=True)
class Scene:
    """Everything needed to draw one image and caption it."""

    kind: str  # "digit", "letter" or "shape"
    name: str  # digit name ("seven"), letter ("q") or shape name ("star")
    style: (
        str  # digit style ("printed", "handwritten", "blurry"), letter style ("printed", "bold", "italic"),
    )
    # or "solid" / "outline" for shapes
    color: str
    background: str
    background_color: str
    size: str
    position: str
    rotation: float
    blur: float
    noise: float
    seed: int


def _rgb(name: str) -> tuple[int, int, int]:
    return COLORS.get(name) or HELD_OUT_COLORS[name]


def kind_of(name: str) -> str:
    """The kind of a glyph name: ``"digit"``, ``"letter"`` or ``"shape"``."""
    if name in DIGIT_NAMES:
        return "digit"
    if name in LETTERS:
        return "letter"
    if name in SHAPES:
        return "shape"
    raise ValueError(f"name={name!r} is not a digit name, letter or shape of the world")


_NAMES = {"digit": DIGIT_NAMES, "letter": LETTERS, "shape": SHAPES}


def sample_scene(
    rng: np.random.Generator,
    *,
    kinds: Sequence[str] = ("digit", "letter", "shape"),
    colors: Sequence[str] = tuple(COLORS),
    backgrounds: Sequence[str] = BACKGROUNDS,
    name: str | None = None,
) -> Scene:
    """Draw random scene attributes; ``name`` fixes the glyph (a digit name, letter or shape name)."""
    if name is not None:
        kind = kind_of(name)
    else:
        kind = str(rng.choice(list(kinds)))
        name = str(rng.choice(_NAMES[kind]))
    if kind == "digit":
        style = str(rng.choice(DIGIT_STYLES))
    elif kind == "letter":
        style = str(rng.choice(LETTER_STYLES))
    else:
        style = str(rng.choice(["solid", "solid", "outline"]))
    color = str(rng.choice(list(colors)))
    background_color = str(rng.choice([c for c in colors if c != color]))
    return Scene(
        kind=kind,
        name=name,
        style=style,
        color=color,
        background=str(rng.choice(list(backgrounds))),
        background_color=background_color,
        size=str(rng.choice(SIZES)),
        position=str(rng.choice(POSITIONS)) if rng.random() < 0.35 else "center",
        rotation=float(rng.normal(0.0, 20.0)),
        blur=float(rng.choice([0.0, 0.0, 0.0, 0.5, 1.0])),
        noise=float(rng.choice([0.0, 0.0, 4.0, 10.0, 16.0])),
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def sklearn_like_scene(rng: np.random.Generator, name: str | None = None) -> Scene:
    """A handwritten digit to be drawn the way scikit-learn's digits were made (see :func:`render_sklearn_like`)."""
    name = name if name is not None else str(rng.choice(DIGIT_NAMES))
    return Scene(
        kind="digit",
        name=name,
        style="sklearn",
        color="white",
        background="plain",
        background_color="black",
        size="large",
        position="center",
        rotation=float(rng.normal(0.0, 8.0)),
        blur=0.0,
        noise=0.0,
        seed=int(rng.integers(0, 2**31 - 1)),
    )


# ---------------------------------------------------------------- glyph masks


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 24) -> list[tuple[float, float]]:
    return [
        (cx + rx * math.cos(2 * math.pi * t / n), cy + ry * math.sin(2 * math.pi * t / n))
        for t in range(n + 1)
    ]


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 12
) -> list[tuple[float, float]]:
    """Points of an elliptic arc from angle ``start`` to ``end`` (degrees, y down, 0 = right)."""
    return [
        (cx + rx * math.cos(math.radians(start + (end - start) * t / n)),
         cy + ry * math.sin(math.radians(start + (end - start) * t / n)))
        for t in range(n + 1)
    ]  # fmt: skip


# Handwritten digit strokes as polylines in the unit square (y down): several templates per digit, the ways people write
# them (a seven with or without a bar, an open or closed four, a one with or without a base, …).
_Stroke = list[tuple[float, float]]
_DIGIT_TEMPLATES: dict[str, list[list[_Stroke]]] = {
    "zero": [
        [_ellipse(0.5, 0.5, 0.24, 0.38)],
        [_ellipse(0.5, 0.5, 0.3, 0.4)],
        [_ellipse(0.5, 0.5, 0.2, 0.4)],
    ],
    "one": [
        [[(0.36, 0.26), (0.52, 0.1), (0.52, 0.9)]],
        [[(0.5, 0.1), (0.5, 0.9)]],
        [[(0.34, 0.28), (0.54, 0.1), (0.54, 0.9)], [(0.34, 0.9), (0.74, 0.9)]],
    ],
    "two": [
        [[(0.26, 0.3), (0.36, 0.14), (0.56, 0.1), (0.72, 0.22), (0.7, 0.4), (0.26, 0.9), (0.78, 0.9)]],
        [[*_arc(0.5, 0.32, 0.24, 0.22, 200, 380), (0.26, 0.9), (0.8, 0.88)]],
        [
            [
                *_arc(0.5, 0.3, 0.22, 0.2, 190, 390),
                (0.3, 0.84),
                *_arc(0.3, 0.8, 0.08, 0.08, 270, 90, 6),
                (0.8, 0.9),
            ]
        ],
    ],
    "three": [
        [[(0.26, 0.14), (0.72, 0.14), (0.46, 0.44), (0.7, 0.58), (0.7, 0.8), (0.5, 0.92), (0.26, 0.84)]],
        [_arc(0.48, 0.3, 0.22, 0.2, 200, 450), _arc(0.48, 0.7, 0.25, 0.22, 270, 520)],
        [[(0.28, 0.12), (0.74, 0.12), (0.5, 0.42), *_arc(0.48, 0.68, 0.25, 0.24, 280, 520)]],
    ],
    "four": [
        [[(0.64, 0.9), (0.64, 0.1), (0.2, 0.64), (0.8, 0.64)]],
        [[(0.3, 0.1), (0.24, 0.58), (0.8, 0.58)], [(0.64, 0.3), (0.64, 0.92)]],
        [[(0.36, 0.1), (0.26, 0.56), (0.76, 0.56)], [(0.68, 0.1), (0.62, 0.92)]],
    ],
    "five": [
        [
            [
                (0.72, 0.1),
                (0.3, 0.1),
                (0.28, 0.46),
                (0.55, 0.42),
                (0.72, 0.58),
                (0.7, 0.8),
                (0.5, 0.92),
                (0.26, 0.85),
            ]
        ],
        [[(0.3, 0.12), (0.28, 0.46), *_arc(0.48, 0.66, 0.24, 0.24, 225, 505)], [(0.3, 0.12), (0.74, 0.12)]],
    ],
    "six": [
        [[(0.66, 0.1), (0.36, 0.38), (0.28, 0.68)], _ellipse(0.5, 0.7, 0.22, 0.2)],
        [[*_arc(0.56, 0.5, 0.28, 0.42, 250, 180, 8), *_arc(0.5, 0.7, 0.22, 0.2, 180, 540)]],
    ],
    "seven": [
        [[(0.24, 0.12), (0.76, 0.12), (0.42, 0.9)]],
        [[(0.24, 0.12), (0.76, 0.12), (0.46, 0.9)], [(0.34, 0.5), (0.72, 0.5)]],
        [[(0.22, 0.2), (0.26, 0.12), (0.78, 0.12), (0.56, 0.5), (0.5, 0.9)]],
    ],
    "eight": [
        [_ellipse(0.5, 0.3, 0.18, 0.18), _ellipse(0.5, 0.7, 0.22, 0.21)],
        [_ellipse(0.5, 0.28, 0.2, 0.2), _ellipse(0.5, 0.7, 0.2, 0.22)],
        [[*_arc(0.5, 0.3, 0.2, 0.2, 20, 340), *_arc(0.5, 0.7, 0.22, 0.21, 160, -180)]],
    ],
    "nine": [
        [_ellipse(0.5, 0.32, 0.2, 0.2), [(0.7, 0.34), (0.6, 0.9)]],
        [_ellipse(0.48, 0.3, 0.22, 0.2), [(0.7, 0.3), (0.7, 0.9)]],
        [[*_ellipse(0.5, 0.32, 0.2, 0.2), *_arc(0.5, 0.5, 0.2, 0.42, -10, 100, 8)]],
    ],
}


def _distort(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A random affine (shear, anisotropic scale) plus a smooth wobble, about the centre of the unit square."""
    shear = rng.uniform(-0.35, 0.35) * amount
    sx, sy = (
        rng.uniform(1 - 0.3 * amount, 1 + 0.1 * amount),
        rng.uniform(1 - 0.15 * amount, 1 + 0.05 * amount),
    )
    centred = points - 0.5
    x = centred[:, 0] * sx + shear * centred[:, 1]
    y = centred[:, 1] * sy
    phase, freq = rng.uniform(0, 2 * math.pi, 2), rng.uniform(2.0, 5.0, 2)
    x = x + 0.03 * amount * np.sin(freq[0] * y * 2 * math.pi + phase[0])
    y = y + 0.03 * amount * np.sin(freq[1] * x * 2 * math.pi + phase[1])
    return np.stack([x, y], axis=1) + 0.5


def _polygon(n: int, radius: float, star: bool = False) -> list[tuple[float, float]]:
    points = []
    for i in range(n * (2 if star else 1)):
        r = radius * (0.45 if star and i % 2 else 1.0)
        a = -math.pi / 2 + 2 * math.pi * i / (n * (2 if star else 1))
        points.append((0.5 + r * math.cos(a), 0.5 + r * math.sin(a)))
    return points


_SHAPE_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "square": [(0.18, 0.18), (0.82, 0.18), (0.82, 0.82), (0.18, 0.82)],
    "triangle": _polygon(3, 0.4),
    "star": _polygon(5, 0.42, star=True),
    "cross": [
        (0.38, 0.12), (0.62, 0.12), (0.62, 0.38), (0.88, 0.38), (0.88, 0.62), (0.62, 0.62),
        (0.62, 0.88), (0.38, 0.88), (0.38, 0.62), (0.12, 0.62), (0.12, 0.38), (0.38, 0.38),
    ],
    "diamond": [(0.5, 0.1), (0.85, 0.5), (0.5, 0.9), (0.15, 0.5)],
    "hexagon": _polygon(6, 0.4),
    "pentagon": _polygon(5, 0.4),
    "arrow": [(0.1, 0.4), (0.55, 0.4), (0.55, 0.2), (0.9, 0.5), (0.55, 0.8), (0.55, 0.6), (0.1, 0.6)],
}  # fmt: skip

_FONT_CACHE: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if size not in _FONT_CACHE:
        _FONT_CACHE[size] = ImageFont.load_default(size=size)
    return _FONT_CACHE[size]


def _handwritten(
    draw: ImageDraw.ImageDraw, name: str, rng: np.random.Generator, canvas: int, width: int
) -> None:
    templates = _DIGIT_TEMPLATES[name]
    strokes = templates[int(rng.integers(len(templates)))]
    amount = rng.uniform(0.3, 1.0)
    joined = np.concatenate([np.asarray(stroke, dtype=np.float64) for stroke in strokes])
    distorted = _distort(joined, rng, amount) + rng.normal(0.0, 0.015, size=joined.shape)
    start = 0
    for stroke in strokes:
        part = distorted[start : start + len(stroke)]
        start += len(stroke)
        draw.line(
            [(float(x * canvas), float(y * canvas)) for x, y in part], fill=255, width=width, joint="curve"
        )


def _glyph_mask(scene: Scene, rng: np.random.Generator) -> Image.Image:
    """A grayscale mask (255 = glyph) of the glyph, centred on a _CANVAS × _CANVAS canvas, before placement."""
    c = _CANVAS
    mask = Image.new("L", (c, c), 0)
    draw = ImageDraw.Draw(mask)

    def to_px(points: Sequence[tuple[float, float]], jitter: float = 0.0) -> list[tuple[float, float]]:
        pts = np.asarray(points, dtype=np.float64)
        if jitter:
            pts = pts + rng.normal(0.0, jitter, size=pts.shape)
        return [(float(x * c), float(y * c)) for x, y in pts]

    if scene.kind == "digit":
        digit = DIGIT_NAMES.index(scene.name)
        if scene.style == "printed":
            font = _font(int(c * rng.uniform(0.8, 0.95)))
            draw.text(
                (c / 2, c / 2),
                str(digit),
                fill=255,
                font=font,
                anchor="mm",
                stroke_width=int(rng.integers(0, 3)),
            )
        else:
            _handwritten(draw, scene.name, rng, c, int(rng.integers(c // 14, c // 6)))
    elif scene.kind == "letter":
        font = _font(int(c * rng.uniform(0.75, 0.95)))
        bold = 3 if scene.style == "bold" else int(rng.integers(0, 2))
        draw.text((c / 2, c / 2), scene.name.upper(), fill=255, font=font, anchor="mm", stroke_width=bold)
        if scene.style == "italic":
            shear = (1, 0.3, -0.15 * c, 0, 1, 0)
            mask = mask.transform((c, c), Image.Transform.AFFINE, shear, resample=Image.Resampling.BILINEAR)
    elif scene.name in ("circle", "ring"):
        inset = c * 0.15
        box = (inset, inset, c - inset, c - inset)
        if scene.name == "ring" or scene.style == "outline":
            draw.ellipse(box, outline=255, width=max(3, c // 10))
        else:
            draw.ellipse(box, fill=255)
    else:
        points = to_px(_SHAPE_POLYGONS[scene.name], jitter=0.01)
        if scene.style == "outline":
            draw.line([*points, points[0]], fill=255, width=max(3, c // 12), joint="curve")
        else:
            draw.polygon(points, fill=255)
    return mask.rotate(scene.rotation, resample=Image.Resampling.BILINEAR)


# ---------------------------------------------------------------- backgrounds


def _background(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    s = IMAGE_SIZE
    base = np.array(_rgb(scene.background_color), dtype=np.float32)
    other = np.clip(base * rng.uniform(0.45, 0.75) + rng.uniform(0, 60), 0, 255)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    kind = scene.background
    period: float | np.integer  # int or float by pattern
    if kind == "plain":
        pattern = np.zeros((s, s), np.float32)
    elif kind == "striped":
        period = rng.integers(4, 9)
        direction = xx if rng.random() < 0.5 else yy
        pattern = ((direction // (period / 2)) % 2).astype(np.float32)
    elif kind == "dotted":
        period = int(rng.integers(5, 9))
        pattern = (((xx % period) < 2) & ((yy % period) < 2)).astype(np.float32)
    elif kind == "checkered":
        period = int(rng.integers(4, 9))
        pattern = (((xx // period) + (yy // period)) % 2).astype(np.float32)
    elif kind == "noisy":
        pattern = rng.random((s, s)).astype(np.float32)
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * math.pi)
        pattern = (math.cos(angle) * xx + math.sin(angle) * yy) / s
        pattern = (pattern - pattern.min()) / (np.ptp(pattern) + 1e-6)
    elif kind == "zigzag":
        period = int(rng.integers(5, 9))
        pattern = (((yy + np.abs((xx % period) - period / 2)) // (period / 2)) % 2).astype(np.float32)
    elif kind == "diagonal":
        period = int(rng.integers(4, 9))
        pattern = (((xx + yy) // (period / 2)) % 2).astype(np.float32)
    elif kind == "circles":
        period = rng.uniform(3.0, 6.0)
        cx, cy = rng.uniform(0, s, 2)
        pattern = ((np.hypot(xx - cx, yy - cy) // period) % 2).astype(np.float32)
    elif kind == "waves":
        freq = rng.uniform(0.3, 0.7)
        pattern = 0.5 + 0.5 * np.sin(freq * xx + 2.0 * np.sin(0.25 * yy))
    elif kind == "grid":
        period = int(rng.integers(5, 9))
        pattern = (((xx % period) < 1) | ((yy % period) < 1)).astype(np.float32)
    elif kind == "speckled":
        pattern = (rng.random((s, s)) < 0.25).astype(np.float32)
    else:
        raise ValueError(f"background={kind!r} is not a known background")
    pattern = pattern[..., None]
    return base * (1 - pattern) + other * pattern


# ---------------------------------------------------------------- rendering


def render_scene(scene: Scene) -> Image.Image:
    """Draw a scene as a 32×32 RGB image; the same scene always gives the same pixels."""
    if scene.style == "sklearn":
        return render_sklearn_like(scene)
    rng = np.random.default_rng(scene.seed)
    s = IMAGE_SIZE
    mask = _glyph_mask(scene, rng)
    if scene.kind == "digit" and scene.style == "blurry":
        # Mimic scikit-learn's 8×8 digits: area-downsample, quantise to 17 levels, upscale smoothly.
        small: np.ndarray = np.asarray(mask.resize((8, 8), Image.Resampling.BOX), dtype=np.float32)
        small = np.round(small / 255 * 16) / 16 * 255
        mask = Image.fromarray(small.astype(np.uint8)).resize((_CANVAS, _CANVAS), Image.Resampling.BILINEAR)
    low, high = {"small": (0.45, 0.6), "medium": (0.62, 0.78), "large": (0.8, 1.0)}[scene.size]
    glyph_px = max(6, round(s * rng.uniform(low, high)))
    glyph = np.asarray(mask.resize((glyph_px, glyph_px), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    free = s - glyph_px
    centre = free / 2
    offsets = {
        "center": (centre, centre),
        "left": (0.0, centre),
        "right": (float(free), centre),
        "top": (centre, 0.0),
        "bottom": (centre, float(free)),
    }
    ox, oy = offsets[scene.position]
    ox = int(np.clip(round(ox + rng.normal(0, 1.0)), 0, free))
    oy = int(np.clip(round(oy + rng.normal(0, 1.0)), 0, free))
    alpha = np.zeros((s, s), np.float32)
    alpha[oy : oy + glyph_px, ox : ox + glyph_px] = glyph
    image = _background(scene, rng)
    ink = np.array(_rgb(scene.color), np.float32) + rng.normal(0, 14, size=3)
    image = image * (1 - alpha[..., None]) + ink * alpha[..., None]
    image = (image - 128.0) * rng.uniform(0.8, 1.15) + 128.0 + rng.normal(0, 10)  # contrast and brightness
    if scene.noise:
        image = image + rng.normal(0, scene.noise, size=image.shape)
    out = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    if scene.blur:
        out = out.filter(ImageFilter.GaussianBlur(scene.blur))
    return out


def render_sklearn_like(scene: Scene) -> Image.Image:
    """A handwritten digit made the way scikit-learn's digits were (UCI optdigits): a binary 32×32 bitmap of the digit
    scaled to fill the box, counted in 4×4 blocks to an 8×8 grid of values 0–16, then shown by
    :func:`render_digit_like_sklearn` exactly as ``alnb.datasets.load("digits")`` shows the real ones."""
    rng = np.random.default_rng(scene.seed)
    c = _CANVAS
    mask = Image.new("L", (c, c), 0)
    _handwritten(ImageDraw.Draw(mask), scene.name, rng, c, int(rng.integers(c // 10, c // 4)))
    mask = mask.rotate(scene.rotation, resample=Image.Resampling.BILINEAR)
    box = mask.point(lambda v: 255 if v >= 128 else 0).getbbox()
    if box is None:
        box = (0, 0, c, c)
    glyph = mask.crop(box)
    margin = int(rng.integers(0, 4))
    fit = 32 - 2 * margin
    scale = fit / max(glyph.size)
    width, height = max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))
    bitmap = Image.new("L", (32, 32), 0)
    bitmap.paste(glyph.resize((width, height), Image.Resampling.BILINEAR), ((32 - width) // 2, (32 - height) // 2))
    on = (np.asarray(bitmap, dtype=np.float32) >= 128).astype(np.float32)
    counts = on.reshape(8, 4, 8, 4).sum(axis=(1, 3))
    return render_digit_like_sklearn(counts)


def render_digit_like_sklearn(pixels_8x8: np.ndarray) -> Image.Image:
    """Turn one of scikit-learn's 8×8 digits (values 0–16) into the 32×32 RGB image the tiny CLIP sees best.

    White ink on black, upscaled smoothly to 24 px and padded to 32: the scale at which the pretraining glyphs are drawn.
    """
    array = np.asarray(pixels_8x8, dtype=np.float32).reshape(8, 8)
    if array.min() < 0 or array.max() > 16:
        raise ValueError(f"pixels_8x8 must hold values in [0, 16], got range [{array.min()}, {array.max()}]")
    small = Image.fromarray((array / 16 * 255).astype(np.uint8), "L").resize((24, 24), Image.Resampling.BILINEAR)
    canvas = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 0)
    canvas.paste(small, (4, 4))
    return canvas.convert("RGB")


# ---------------------------------------------------------------- captions


def glyph_phrase(scene: Scene) -> str:
    """The class phrase of a scene's glyph: "digit seven", "letter q" or "star"."""
    if scene.kind == "digit":
        return f"digit {scene.name}"
    if scene.kind == "letter":
        return f"letter {scene.name}"
    return scene.name


def caption_for(scene: Scene, rng: np.random.Generator, drop: float = 0.5, filler: bool | None = None) -> str:
    """A caption naming the scene; each attribute is dropped with probability ``drop``.

    ``filler`` prepends 1–12 neutral words (by default in a quarter of the captions): long captions train the text
    positions that CoOp's learnable context pushes the class name into.
    """
    words: list[str] = []
    if filler if filler is not None else rng.random() < 0.25:
        words += list(rng.choice(_FILLER, size=int(rng.integers(1, 13))))
    words += str(rng.choice(_PREFIXES)).split()
    if rng.random() > drop:
        words.append(scene.size)
    if rng.random() > drop:
        words.append(scene.color)
    if scene.kind == "digit":
        if rng.random() > drop:
            words.append("handwritten" if scene.style == "sklearn" else scene.style)
        words += ["digit", scene.name] if rng.random() < 0.85 else ["number", scene.name]
    elif scene.kind == "letter":
        if scene.style != "printed" and rng.random() > drop:
            words.append(scene.style)
        words += ["letter", scene.name] if rng.random() < 0.85 else ["capital", "letter", scene.name]
    else:
        if scene.style == "outline" and rng.random() > drop:
            words.append("outlined")
        words.append(scene.name)
    if scene.position != "center" and rng.random() > drop:
        words += ["on", "the", scene.position]
    if rng.random() > drop:
        words += ["on", "a"]
        if rng.random() > drop:
            words.append(scene.background_color)
        words += [scene.background, "background"]
    return " ".join(words) + " ."


def vocabulary() -> list[str]:
    """Every word a caption or a built-in prompt can contain (the tokenizer's word list, without special tokens)."""
    words = (
        set(DIGIT_NAMES)
        | set(SHAPES)
        | set(LETTERS)
        | set(LETTER_STYLES)
        | set(COLORS)
        | set(HELD_OUT_COLORS)
        | set(BACKGROUNDS)
    )
    words |= set(HELD_OUT_BACKGROUNDS) | set(DIGIT_STYLES) | set(SIZES) | set(POSITIONS) | set(_FILLER)
    for prefix in _PREFIXES:
        words |= set(prefix.split())
    words |= {
        "digit",
        "number",
        "letter",
        "capital",
        "outlined",
        "on",
        "the",
        "background",
        "photo",
        "of",
        "a",
        "an",
        ".",
        ",",
    }
    words |= {
        "solid",
        "shape",
        "object",
        "glyph",
        "handwriting",
        "drawn",
        "sign",
        "symbol",
        "in",
        "and",
        "at",
    }
    return sorted(words)
