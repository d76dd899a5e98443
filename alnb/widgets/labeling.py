"""The person's side of an active-learning round, in three parts (the way superintendent and ipyannotations
split it):

- :class:`TileGrid`, the view: the queried images as tiles with the model's guess, why it asked, the state.
- :class:`LabelInput`, the input control: one button per class (its key shown on it), accept-the-guess, skip,
  undo, submit, full-size view, tile size, and the keyboard (:mod:`alnb.widgets.keys`).
- :class:`LabelingController`, the only part that talks to the pool (or, while a model trains, to the
  holding store the session gives it): labels, skips, undo within this batch, the batch's state.

:class:`LabelingWidget` puts them together.
"""

from __future__ import annotations

import html
import logging
import math
import re
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
import numpy as np
import numpy.typing as npt

from alnb.learner import Query
from alnb.pool import Pool
from alnb.store import Action, LabelStore
from alnb.widgets._images import row_image, to_png
from alnb.widgets.keys import keyboard_control

__all__ = [
    "Batch",
    "LabelInput",
    "LabelingController",
    "LabelingWidget",
    "TileGrid",
    "auto_tile_size",
    "check_display_names",
    "class_keys",
]

IntArray = npt.NDArray[np.int64]
_log = logging.getLogger(__name__)

# Tile borders: the selected tile stands out most; labeled and skipped tiles are told apart at a glance.
_BORDER_SELECTED = "3px solid #1565c0"
_BORDER_LABELED = "2px solid #2e7d32"
_BORDER_SKIPPED = "2px dashed #9e9e9e"
_BORDER_OPEN = "2px solid #e0e0e0"
_BORDER_PSEUDO = "2px dotted #6a1b9a"

#: Keys of the classes, in class order: digits first (``1`` … ``9``, ``0``), then letters that no other action
#: takes (``a`` accept, ``s`` skip, ``f`` full size are reserved). Classes past these have buttons only.
_CLASS_KEYS = tuple("1234567890") + tuple("qwertyuiopdghjklzxcvbnm")
_ACTION_KEYS = {
    "a": "accept",
    "s": "skip",
    "f": "full",
    "escape": "close",
    "enter": "submit",
    "backspace": "undo",
    "ctrl+z": "undo",
    "delete": "revert",
    "space": "next",
    "arrowright": "next",
    "shift+space": "previous",
    "arrowleft": "previous",
    "arrowdown": "down",
    "arrowup": "up",
}


@dataclass(frozen=True)
class Batch:
    """What a person did with one query, handed to ``on_submit``.

    Attributes
    ----------
    query : Query
        The query that was shown.
    labeled : ndarray of int64
        Dataset-wide indices of the query that carry a label now, in query order.
    labels : ndarray of int64
        Their class ids (aligned with ``labeled``).
    skipped : ndarray of int64
        Indices of the query the person skipped.
    unlabeled : ndarray of int64
        Indices of the query left untouched; they stay in the unlabeled pool.
    audit : ndarray of int64
        Indices of the query drawn at random for the audit estimate (:mod:`alnb.audit`).
    """

    query: Query
    labeled: IntArray
    labels: IntArray
    skipped: IntArray
    unlabeled: IntArray
    audit: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def check_display_names(class_names: Sequence[str]) -> tuple[str, ...]:
    """Refuse class names a person could not tell apart on the buttons.

    Exact duplicates are refused, and so are names equal once surrounding and repeated whitespace is ignored
    (``"cat"`` and ``"cat "`` would make two buttons that read the same).

    Raises
    ------
    ValueError
        Naming the clashing names.

    Examples
    --------
    >>> check_display_names(["cat", "dog"])
    ('cat', 'dog')
    """
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or not class_names:
        raise ValueError(f"class_names must be a non-empty sequence of strings, got {class_names!r}.")
    names = tuple(class_names)
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        raise ValueError(f"class_names must be non-empty strings, got {bad!r}.")
    seen: dict[str, str] = {}
    clashes: list[tuple[str, str]] = []
    for name in names:
        shown = re.sub(r"\s+", " ", name).strip()
        if shown in seen:
            clashes.append((seen[shown], name))
        else:
            seen[shown] = name
    if clashes:
        pairs = ", ".join(f"{a!r} and {b!r}" for a, b in clashes)
        raise ValueError(
            f"class_names must be distinct as shown on buttons, but {pairs} read the same; "
            "rename one of each pair."
        )
    return names


def _check_query(query: Any, pool: Pool) -> Query:
    if not isinstance(query, Query):
        raise ValueError(f"query must be an alnb.learner.Query, got {type(query).__name__}.")
    n = len(query.indices)
    if n == 0:
        raise ValueError(
            "query is empty: there is nothing to label (is the unlabeled pool empty or the label budget "
            "spent?)."
        )
    for name in ("scores", "predicted", "confidence"):
        if len(getattr(query, name)) != n:
            raise ValueError(
                f"query.{name} has {len(getattr(query, name))} items but query.indices has {n}; "
                "expected one per index."
            )
    indices = [int(i) for i in query.indices]
    if len(set(indices)) != n:
        raise ValueError(f"query.indices must be unique, got {indices}.")
    outside = [i for i in indices if i not in pool]
    if outside:
        raise ValueError(
            f"query.indices contains {outside[:10]}, which are not in the pool of {len(pool)} items; "
            "expected dataset-wide indices of the pool (was the query made for another pool?)."
        )
    bad = [int(p) for p in query.predicted if not 0 <= int(p) < pool.num_classes]
    if bad:
        raise ValueError(
            f"query.predicted contains {bad[:10]}, expected class ids in [0, {pool.num_classes})."
        )
    return query


def class_keys(num_classes: int) -> tuple[str, ...]:
    """The key of each class (``""`` past the available keys); see the module docstring.

    >>> class_keys(3), len(class_keys(40)), class_keys(40)[-1]
    (('1', '2', '3'), 40, '')
    """
    return tuple(_CLASS_KEYS[c] if c < len(_CLASS_KEYS) else "" for c in range(num_classes))


def auto_tile_size(image: Any, target: int = 160, largest: int = 256) -> int:
    """A tile side that follows the image: small images enlarged by the whole factor that reaches ``target``
    pixels (a 32 px digit becomes 160 px, pixels kept sharp), large ones shown at up to ``largest`` pixels.

    >>> from PIL import Image
    >>> auto_tile_size(Image.new("L", (32, 32))), auto_tile_size(Image.new("RGB", (640, 480)))
    (160, 256)
    """
    longest = max(image.size)
    if longest >= target:
        return int(min(longest, largest))
    return int(min(largest, longest * math.ceil(target / longest)))


def _state_of(store: LabelStore, index: int) -> tuple[str, int | None, bool]:
    """``("label", class, pseudo)``, ``("skip", None, False)`` or ``("open", None, False)`` of ``index``."""
    action = store.current_action(index)
    if action is None:
        return "open", None, False
    if action.type == "label":
        return "label", action.label, bool(getattr(action, "pseudo", False))
    if action.type == "skip":
        return "skip", None, False
    return "open", None, False


class LabelingController:
    """Everything the labeling widget does to labels, and nothing else: it talks only to the pool.

    While a model trains, the session points the controller at a *holding* store (a label file of its own):
    the person keeps labeling the next batch, every click is durable there, and the session moves the labels
    into the pool when the round is closed (so the model being trained and its history stay consistent).

    Parameters
    ----------
    pool : Pool
        The pool; its store is the default target.
    annotator : str
        Recorded with every action.
    """

    def __init__(self, pool: Pool, annotator: str = "human") -> None:
        if not isinstance(pool, Pool):
            raise ValueError(f"pool must be an alnb.Pool, got {type(pool).__name__}.")
        if not isinstance(annotator, str) or not annotator.strip():
            raise ValueError(f"annotator must be a non-empty string, got {annotator!r}.")
        self.pool = pool
        self.annotator = annotator
        self._holding: LabelStore | None = None
        #: Held around every write, so a background hand-over of held labels never races a click.
        self.lock = threading.RLock()

    @property
    def store(self) -> LabelStore:
        """Where actions go now: the pool's store, or the holding store while a model trains."""
        return self._holding if self._holding is not None else self.pool.store

    @property
    def holding(self) -> bool:
        return self._holding is not None

    def hold(self, store: LabelStore | None) -> None:
        """Write to ``store`` from now on (``None``: back to the pool's store)."""
        if store is not None and store.class_names != self.pool.class_names:
            raise ValueError(
                f"the holding store has class_names {list(store.class_names)}, expected the pool's "
                f"{list(self.pool.class_names)}."
            )
        self._holding = store

    def class_id(self, label: int | str) -> int:
        names = self.pool.class_names
        if isinstance(label, str):
            if label not in names:
                raise ValueError(f"labels contains {label!r}, expected one of {list(names)!r}.")
            return names.index(label)
        if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
            if not 0 <= int(label) < len(names):
                raise ValueError(f"labels contains {label}, expected class ids in [0, {len(names)}).")
            return int(label)
        raise ValueError(f"labels contains {label!r}, expected a class id (int) or a class name (str).")

    def label(self, index: int, label: int | str) -> None:
        with self.lock:
            self._label(index, label)

    def _label(self, index: int, label: int | str) -> None:
        if self._holding is None:
            self.pool.label([index], [label], annotator=self.annotator)
        else:
            self._holding.label(
                [index], [self.class_id(label)], round=self.pool.round, annotator=self.annotator
            )

    def skip(self, index: int) -> None:
        with self.lock:
            self._skip(index)

    def _skip(self, index: int) -> None:
        if self._holding is None:
            self.pool.skip(index, annotator=self.annotator)
        else:
            self._holding.skip(index, round=self.pool.round, annotator=self.annotator)

    def unlabel(self, index: int) -> None:
        """Revert a label (a pseudo-label, say) or a skip of ``index``."""
        with self.lock:
            self._unlabel(index)

    def _unlabel(self, index: int) -> None:
        if self._holding is None:
            self.pool.unlabel(index, annotator=self.annotator)
        else:
            self._holding.unlabel(index, round=self.pool.round, annotator=self.annotator)

    def state(self, index: int) -> tuple[str, int | None, bool]:
        """The state of ``index`` as shown: ``(kind, class, pseudo)`` with kind ``label`` / ``skip`` / ``open``."""
        return _state_of(self.store, index)

    def undo_target(self, query: Query) -> Action | None:
        """The action an undo would revert, when it belongs to this batch (else ``None``).

        It is :meth:`LabelStore.undo_target` (the store object's own last action, where the store scopes undo to
        its writer), limited to the batch's images and, in the pool's store, to the current round: an earlier
        round's label was trained on already.
        """
        target = self.store.undo_target()
        if target is None or target.index not in set(query.indices.tolist()):
            return None
        if self._holding is None and target.round != self.pool.round:
            return None
        return target

    def why_no_undo(self) -> str:
        target = self.store.undo_target()
        if target is None:
            return "there is nothing to undo"
        return "the last action belongs to an earlier batch"

    def undo(self) -> Action | None:
        with self.lock:
            if self._holding is None:
                return self.pool.undo(annotator=self.annotator)
            return self._holding.undo(round=self.pool.round, annotator=self.annotator)

    def batch(self, query: Query, audit: Collection[int] = ()) -> Batch:
        """The query's items grouped by their current state."""
        states = {i: self.state(i) for i in query.indices.tolist()}
        labeled = [i for i, s in states.items() if s[0] == "label"]
        return Batch(
            query=query,
            labeled=np.asarray(labeled, dtype=np.int64),
            labels=np.asarray([states[i][1] for i in labeled], dtype=np.int64),
            skipped=np.asarray([i for i, s in states.items() if s[0] == "skip"], dtype=np.int64),
            unlabeled=np.asarray([i for i, s in states.items() if s[0] == "open"], dtype=np.int64),
            audit=np.asarray([i for i in query.indices.tolist() if i in set(audit)], dtype=np.int64),
        )


class _Tile:
    """One queried image with its caption, its state line and a select button."""

    def __init__(self, position: int, index: int, png: bytes, caption: str, size: int) -> None:
        self.position = position
        self.index = index
        self.select_button = w.Button(
            description=f"#{index}",
            tooltip=f"select image #{index} (click again for full size)",
            layout=w.Layout(width="100%"),
        )
        self.image = w.Image(value=png, format="png", layout=w.Layout(width=f"{size}px", height="auto"))
        self.caption = w.HTML(caption, layout=w.Layout(width="100%"))
        self.state = w.HTML("", layout=w.Layout(width="100%"))
        self.box = w.VBox(
            [self.select_button, self.image, self.caption, self.state],
            layout=w.Layout(width=f"{size + 16}px", padding="4px", border=_BORDER_OPEN, align_items="center"),
        )
        self.box.add_class("alnb-tile")


class TileGrid(w.VBox):
    """The view: a grid of tiles (image, model's guess and confidence, why it was asked, state), and a
    full-resolution panel for the selected image.

    Parameters
    ----------
    pool : Pool
        Where the images come from (``pool.dataset``).
    class_names : sequence of str
        Names shown in captions (escaped).
    image_column, caption_column : str
        Dataset columns of the image and of the caption line (``None``: no caption line).
    tile_size : int or None
        Side of each tile's image in pixels; ``None`` follows the first image (:func:`auto_tile_size`).
    columns : int or None
        Tiles per row; ``None`` fills the width.
    """

    def __init__(
        self,
        pool: Pool,
        class_names: Sequence[str],
        image_column: str,
        caption_column: str | None,
        tile_size: int | None,
        columns: int | None,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.class_names = tuple(class_names)
        self.image_column = image_column
        self.caption_column = caption_column
        self.tile_size = tile_size
        self.columns = columns
        self.grid = w.GridBox(layout=w.Layout(grid_gap="6px"))
        self.grid.add_class("alnb-grid")  # the keyboard module watches it for a new batch
        self.full_view = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
        self.full_caption = w.HTML()
        self.full_panel = w.VBox([self.full_caption, self.full_view], layout=w.Layout(display="none"))
        self.full_panel.add_class("alnb-full-view")
        self.children = [self.grid, self.full_panel]
        self.tiles: list[_Tile] = []
        self._images: dict[int, Any] = {}

    def image(self, index: int) -> Any:
        if index not in self._images:
            self._images[index] = row_image(self.pool.dataset, index, self.image_column)
        return self._images[index]

    def show(self, query: Query, audit: Collection[int], on_select: Callable[[int], None]) -> None:
        """Build the tiles of ``query`` (audit items marked)."""
        indices = [int(i) for i in query.indices]
        if indices and indices == [t.index for t in self.tiles]:
            # The same images again (a batch kept across a round): same tiles, captions brought up to date.
            for position, tile in enumerate(self.tiles):
                tile.caption.value = self._caption(query, position, audit)
            self.close_full()
            return
        self._images = {}
        if self.tile_size is None and indices:
            self.tile_size = auto_tile_size(self.image(indices[0]))
        size = int(self.tile_size or 160)
        self.tiles = []
        for position, index in enumerate(indices):
            tile = _Tile(
                position, index, to_png(self.image(index), size), self._caption(query, position, audit), size
            )
            tile.select_button.on_click(lambda _b, i=index: on_select(i))
            self.tiles.append(tile)
        self._layout()
        self.grid.children = [t.box for t in self.tiles]
        self.close_full()

    def resize(self, size: int) -> None:
        """Redraw every tile at ``size`` pixels."""
        self.tile_size = int(size)
        for tile in self.tiles:
            tile.image.value = to_png(self.image(tile.index), self.tile_size)
            tile.image.layout.width = f"{self.tile_size}px"
            tile.box.layout.width = f"{self.tile_size + 16}px"
        self._layout()

    def _layout(self) -> None:
        width = int(self.tile_size or 160) + 24
        self.grid.layout.grid_template_columns = (
            f"repeat({self.columns}, {width}px)"
            if self.columns is not None
            else f"repeat(auto-fill, minmax({width}px, {width}px))"
        )

    def open_full(self, index: int) -> None:
        """Show ``index`` at its full resolution (any mode converted to RGB, never enlarged or shrunk)."""
        image = self.image(index)
        # Every source pixel is shown; a small image is enlarged by a whole factor (nearest) so it stays sharp.
        longest = max(image.size)
        self.full_view.value = to_png(image, max(8, longest, 256 if longest < 256 else longest))
        self.full_view.layout.width = "auto"
        self.full_caption.value = (
            f"<b>#{index}</b> at full resolution ({image.size[0]}×{image.size[1]} px) · "
            "<span style='color:#616161'>Esc or <i>Full size</i> closes it</span>"
        )
        self.full_panel.layout.display = "flex"

    def close_full(self) -> None:
        self.full_panel.layout.display = "none"

    @property
    def full_open(self) -> bool:
        return self.full_panel.layout.display != "none"

    def _caption(self, query: Query, position: int, audit: Collection[int]) -> str:
        index = int(query.indices[position])
        predicted = int(query.predicted[position])
        confidence = float(query.confidence[position])
        score = float(query.scores[position])
        if index in audit:
            why = "<b style='color:#ef6c00'>audit</b> · drawn at random"
        elif np.isnan(score):
            # A strategy without scores (random, a cold start): say what it is, once.
            why = f"chosen by {html.escape(query.strategy)}"
        else:
            why = f"{html.escape(query.strategy)} score {score:.3g}"
        lines = []
        if self.caption_column is not None:
            name = html.escape(str(self.pool.dataset[index][self.caption_column]))
            lines.append(f"<code style='word-break:break-all'>{name}</code>")
        lines.append(f"guess: <b>{html.escape(self.class_names[predicted])}</b> ({confidence:.0%})")
        lines.append(f"<span style='color:#616161'>why: {why}</span>")
        return "<div style='font-size:11px;line-height:1.3'>" + "<br>".join(lines) + "</div>"

    def refresh(
        self, states: Sequence[tuple[str, int | None, bool]], selected: int | None, busy: bool
    ) -> None:
        for tile, (kind, label, pseudo) in zip(self.tiles, states):
            if kind == "label" and label is not None:
                name = html.escape(self.class_names[label])
                if pseudo:
                    tile.state.value = (
                        f"<b style='color:#6a1b9a' class='alnb-pseudo'>~ {name} (model's pseudo-label)</b>"
                    )
                    border = _BORDER_PSEUDO
                else:
                    tile.state.value = f"<b style='color:#2e7d32'>✓ {name}</b>"
                    border = _BORDER_LABELED
            elif kind == "skip":
                tile.state.value = "<i style='color:#757575'>skipped</i>"
                border = _BORDER_SKIPPED
            else:
                tile.state.value = "<span style='color:#9e9e9e'>not labeled</span>"
                border = _BORDER_OPEN
            chosen = tile.position == selected and not busy
            tile.box.layout.border = _BORDER_SELECTED if chosen else border
            tile.select_button.button_style = "primary" if chosen else ""
            tile.select_button.disabled = busy


class LabelInput(w.VBox):
    """The input control: a button per class with its key on it, accept-the-guess, skip, undo, submit, full
    size, a tile-size slider, and the keyboard (:func:`alnb.widgets.keys.keyboard_control`).

    It only turns clicks and keys into action names handed to ``on_action`` (``("label", class_id)``,
    ``("accept",)``, ``("skip",)``, ``("undo",)``, ``("submit",)``, ``("next",)``, ...).
    """

    def __init__(
        self,
        class_names: Sequence[str],
        on_action: Callable[..., None],
        *,
        keyboard: bool,
        scope: str,
        tile_size: int,
    ) -> None:
        super().__init__()
        self._on_action = on_action
        self.class_key = class_keys(len(class_names))
        self.class_buttons = []
        for class_id, (name, key) in enumerate(zip(class_names, self.class_key)):
            button = w.Button(
                description=f"{key} · {name}" if key else name,
                tooltip=f"label the selected image {name!r}" + (f" (key {key})" if key else ""),
                button_style="info",
                layout=w.Layout(width="auto"),
            )
            button.add_class("alnb-class-button")
            button.on_click(lambda _b, c=class_id: on_action("label", c))
            self.class_buttons.append(button)
        self.accept_button = w.Button(
            description="Accept guess (a)",
            icon="thumbs-up",
            button_style="primary",
            tooltip="the model's guess is right: label the selected image with it",
            layout=w.Layout(width="auto"),
        )
        self.skip_button = w.Button(
            description="Skip (s)", icon="forward", tooltip="cannot tell: set this image aside"
        )
        self.undo_button = w.Button(
            description="Undo (⌫)", icon="undo", tooltip="revert the last action of this batch"
        )
        self.submit_button = w.Button(
            description="Submit batch (⏎)",
            icon="check",
            button_style="success",
            tooltip="train on the labels and continue",
            layout=w.Layout(width="auto"),
        )
        self.revert_button = w.Button(
            description="Revert (Del)",
            icon="eraser",
            tooltip="back to unlabeled: removes the selected image's label (a model's pseudo-label, say) or skip",
        )
        self.revert_button.on_click(lambda _b: on_action("revert"))
        self.full_button = w.Button(
            description="Full size (f)", icon="search-plus", tooltip="the selected image at full resolution"
        )
        self.accept_button.on_click(lambda _b: on_action("accept"))
        self.skip_button.on_click(lambda _b: on_action("skip"))
        self.undo_button.on_click(lambda _b: on_action("undo"))
        self.submit_button.on_click(lambda _b: on_action("submit"))
        self.full_button.on_click(lambda _b: on_action("full"))
        self.tile_size = w.IntSlider(
            value=tile_size,
            min=64,
            max=512,
            step=16,
            description="tile px",
            continuous_update=False,
            layout=w.Layout(width="260px"),
        )
        keymap = {key: f"label:{c}" for c, key in enumerate(self.class_key) if key}
        keymap.update(_ACTION_KEYS)
        self.keymap = keymap
        #: Keys refused because the batch changed between the key press and its arrival in the kernel.
        self.stale_keys = 0
        self.keyboard = (
            keyboard_control(
                keymap,
                self._key,
                scope=scope,
                on_stale=self._stale,
                help=(
                    "1-9/0 and letters label · a accept guess · s skip · ⌫ undo · Del revert · ⏎ submit · "
                    "←/→/space move · f full size"
                ),
            )
            if keyboard
            else None
        )
        rows: list[w.Widget] = [
            w.HBox(self.class_buttons, layout=w.Layout(flex_flow="row wrap")),
            w.HBox(
                [
                    self.accept_button,
                    self.skip_button,
                    self.undo_button,
                    self.revert_button,
                    self.full_button,
                    self.submit_button,
                ],
                layout=w.Layout(flex_flow="row wrap"),
            ),
            w.HBox(
                [self.tile_size] + ([self.keyboard] if self.keyboard is not None else []),
                layout=w.Layout(align_items="center"),
            ),
        ]
        self.children = rows

    def new_batch(self) -> None:
        """A new batch is shown: keys pressed before the page sees it are refused (never applied to it)."""
        if self.keyboard is not None:
            self.keyboard.generation = int(self.keyboard.generation) + 1

    def _stale(self, action: str) -> None:
        self.stale_keys += 1
        self._on_action("stale", action)

    def _key(self, action: str) -> None:
        if action.startswith("label:"):
            self._on_action("label", int(action.split(":", 1)[1]))
        else:
            self._on_action(action)

    def press(self, key: str) -> None:
        """Act as if ``key`` was pressed in the page (``"1"``, ``"a"``, ``"enter"``, ...): what the keyboard
        module sends, for scripts and tests."""
        name = key if len(key) == 1 else key.lower()
        action = self.keymap.get(name)
        if action is None:
            raise ValueError(f"key={key!r} has no action; the keys are {sorted(self.keymap)}.")
        self._key(action)

    def set_disabled(self, busy: bool, can_undo: bool, can_accept: bool) -> None:
        for button in (*self.class_buttons, self.skip_button, self.submit_button, self.full_button):
            button.disabled = busy
        self.revert_button.disabled = busy
        self.accept_button.disabled = busy or not can_accept
        self.undo_button.disabled = busy or not can_undo


class LabelingWidget(w.VBox):
    """Label the items of one query, by keyboard or by clicks: a :class:`TileGrid`, a :class:`LabelInput` and
    a :class:`LabelingController`.

    Every action is written at once to the pool's :class:`~alnb.store.LabelStore` (for a file store: appended
    and fsync-ed before the handler returns), so closing the notebook or killing the kernel never loses a
    label. Nothing here blocks the kernel.

    Using it: click the widget once, then press a class's key (shown on its button: ``1`` … ``9``, ``0``,
    then letters) to label the selected image, or ``a`` to accept the model's guess; the selection moves to
    the next image without a label. ``s`` skips, ``Backspace`` / ``Ctrl+Z`` undoes the last action of this
    batch, ``Enter`` submits, arrows or space move, ``f`` shows the image at full resolution. Every key has a
    button; a tile's ``#index`` button selects it (a second click opens it at full size). Images left
    without a label or skip stay in the unlabeled pool.

    Each tile shows the model's guess with its confidence, why it was asked (the strategy and its score, or
    *audit* for items drawn at random for the accuracy estimate), and the current label (a model's
    pseudo-label is marked as such and can be relabeled or undone). Class and file names are HTML-escaped.

    Parameters
    ----------
    pool : Pool
        The pool the query was made from; its store receives every action.
    query : Query
        What to label (from :meth:`alnb.ActiveLearner.query`).
    on_submit : callable, optional
        Called with a :class:`Batch` on submit. If it raises, the error is shown and the buttons come back (no
        label is lost).
    image_column : str
        Image column of the pool's dataset.
    budget : int, optional
        Total label budget, shown in the progress line (default: the pool size).
    annotator : str
        Recorded with every action.
    tile_size : int, optional
        Side of each image in pixels (adjustable in the widget); ``None`` follows the image size (32 px digits
        are shown at 160 px, sharp).
    columns : int, optional
        Tiles per row; ``None`` fills the available width.
    caption_column : str, optional
        Dataset column shown under each image; by default ``"path"`` when the dataset has one.
    audit : collection of int
        Indices of the query drawn at random for the audit estimate (marked on their tiles).
    keyboard : bool
        Add the keyboard shortcuts (needs anywidget; the buttons work without).
    controller : LabelingController, optional
        Where actions go (default: one on ``pool``).

    Raises
    ------
    ValueError
        For an empty query, a query with indices outside the pool, class names that read the same on buttons,
        or an image column the dataset lacks.

    Examples
    --------
    >>> from alnb.widgets import LabelingWidget
    >>> widget = LabelingWidget(learner.pool, learner.query(), budget=learner.budget)  # doctest: +SKIP
    >>> widget  # doctest: +SKIP
    """

    def __init__(
        self,
        pool: Pool,
        query: Query,
        on_submit: Callable[[Batch], Any] | None = None,
        image_column: str = "image",
        *,
        budget: int | None = None,
        annotator: str = "human",
        tile_size: int | None = None,
        columns: int | None = None,
        caption_column: str | None = None,
        audit: Collection[int] = (),
        keyboard: bool = True,
        controller: LabelingController | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(pool, Pool):
            raise ValueError(f"pool must be an alnb.Pool, got {type(pool).__name__}.")
        self._class_names = check_display_names(pool.class_names)
        columns_of = getattr(pool.dataset, "column_names", None)
        if columns_of is not None and image_column not in columns_of:
            raise ValueError(
                f"image_column={image_column!r} is not a column of the dataset; it has {columns_of}."
            )
        if caption_column is None and columns_of is not None and "path" in columns_of:
            caption_column = "path"
        if caption_column is not None and columns_of is not None and caption_column not in columns_of:
            raise ValueError(
                f"caption_column={caption_column!r} is not a column of the dataset; it has {columns_of}."
            )
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ValueError(f"budget must be a positive integer or None, got {budget!r}.")
        if tile_size is not None and (
            isinstance(tile_size, bool) or not isinstance(tile_size, int) or not 16 <= tile_size <= 1024
        ):
            raise ValueError(f"tile_size must be None or an integer in [16, 1024] pixels, got {tile_size!r}.")
        if columns is not None and (isinstance(columns, bool) or not isinstance(columns, int) or columns < 1):
            raise ValueError(f"columns must be None or a positive integer, got {columns!r}.")
        self.pool = pool
        self.controller = controller if controller is not None else LabelingController(pool, annotator)
        self.on_submit = on_submit
        self.image_column = image_column
        self.caption_column = caption_column
        self.budget = budget
        self.annotator = annotator
        self.columns = columns

        self.title = w.HTML()
        self.progress_bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="240px"))
        self.progress_text = w.HTML()
        self.view = TileGrid(pool, self._class_names, image_column, caption_column, tile_size, columns)
        self.grid = self.view.grid
        # The input is built once the first tile size is known (its slider starts there).
        self.add_class("alnb-labeling")
        self._scope = f"alnb-labeling-{id(self):x}"
        self.add_class(self._scope)
        self.status = w.HTML()
        self.error = w.HTML()
        self._tiles_by_position: list[_Tile] = []
        self._selected: int | None = None
        self._busy = False
        self._finished: str | None = None
        self._audit: frozenset[int] = frozenset()
        self.query: Query
        self._keyboard = keyboard
        self.input: LabelInput | None = None
        self.set_query(query, audit=audit)

    # ------------------------------------------------------------------ public state

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def class_buttons(self) -> list[w.Button]:
        assert self.input is not None
        return self.input.class_buttons

    @property
    def accept_button(self) -> w.Button:
        assert self.input is not None
        return self.input.accept_button

    @property
    def skip_button(self) -> w.Button:
        assert self.input is not None
        return self.input.skip_button

    @property
    def undo_button(self) -> w.Button:
        assert self.input is not None
        return self.input.undo_button

    @property
    def submit_button(self) -> w.Button:
        assert self.input is not None
        return self.input.submit_button

    @property
    def audit(self) -> frozenset[int]:
        """Indices of the shown batch drawn at random for the audit estimate."""
        return self._audit

    @property
    def selected(self) -> int | None:
        """Dataset index of the selected image (``None`` only before a query is shown)."""
        return None if self._selected is None else self.view.tiles[self._selected].index

    @property
    def submitted(self) -> bool:
        """True after submit until the next :meth:`set_query` (the buttons are disabled meanwhile)."""
        return self._busy

    @property
    def select_buttons(self) -> tuple[w.Button, ...]:
        """Each tile's ``#index`` button (selects that image), in query order."""
        return tuple(t.select_button for t in self.view.tiles)

    @property
    def tiles(self) -> tuple[w.VBox, ...]:
        """The tile widgets, in query order."""
        return tuple(t.box for t in self.view.tiles)

    def batch(self) -> Batch:
        """The query's items grouped by their current state (labeled, skipped, untouched)."""
        return self.controller.batch(self.query, self._audit)

    # ------------------------------------------------------------------ actions

    def set_query(self, query: Query, audit: Collection[int] = ()) -> None:
        """Show a new query (the next batch), with ``audit`` marking items drawn at random, and enable input."""
        try:
            query = _check_query(query, self.pool)
            audit_set = frozenset(int(i) for i in audit)
            outside = sorted(audit_set - set(query.indices.tolist()))
            if outside:
                raise ValueError(f"audit contains {outside[:10]}, which are not in the query.")
        except ValueError as err:
            self._show_error(str(err))
            raise
        previous = getattr(self, "query", None)
        same = previous is not None and previous.indices.tolist() == query.indices.tolist()
        kept = self._selected if same else None
        self.query = query
        self._audit = audit_set
        self.view.show(query, audit_set, lambda i: self._guard(self._select_or_open, i))
        if self.input is not None and not same:
            self.input.new_batch()
        if self.input is None:
            self.input = LabelInput(
                self._class_names,
                lambda *a: self._guard(self._act, *a),
                keyboard=self._keyboard,
                scope="." + self._scope,
                tile_size=int(self.view.tile_size or 160),
            )
            self.input.tile_size.observe(lambda ch: self._guard(self.view.resize, int(ch["new"])), "value")
            self.children = [
                self.title,
                w.HBox([self.progress_bar, self.progress_text], layout=w.Layout(align_items="center")),
                self.view,
                w.HTML("<b>Label the selected image:</b>"),
                self.input,
                self.status,
                self.error,
            ]
        self.progress_bar.max = len(query)
        n_audit = len(audit_set)
        chosen_by = html.escape(query.strategy)
        extra = f" + {n_audit} drawn at random (audit)" if n_audit else ""
        first = " (the first batch, before any training)" if query.round == 0 else ""
        self.title.value = (
            f"<h4 style='margin:4px 0'>Round {int(query.round)}: {len(query) - n_audit} images chosen by "
            f"<code>{chosen_by}</code>{extra}{first}</h4>"
        )
        self._busy = False
        self._finished = None
        if kept is not None:  # the same images again (a batch kept across a round): the selection stays
            self._selected = kept
        else:
            self._selected = 0
            self._advance(from_position=-1)
        self.status.value = ""
        self._clear_error()
        self._refresh()

    def select(self, index: int) -> None:
        """Select the image with dataset index ``index`` (it must be in the current query)."""
        self._selected = self._position(index, "index")
        self._clear_error()
        self._refresh()

    def move(self, step: int) -> None:
        """Move the selection by ``step`` tiles (wrapping around)."""
        if self._selected is None:  # pragma: no cover - a query is always shown after __init__
            return
        self._selected = (self._selected + int(step)) % len(self.view.tiles)
        if self.view.full_open:
            self.view.open_full(self.view.tiles[self._selected].index)
        self._refresh()

    def label(self, label: int | str, index: int | None = None) -> None:
        """Label the selected image (or ``index``) with a class id or name, then select the next open image.

        Raises
        ------
        ValueError
            When ``index`` is not in the current query, ``label`` is not a class, or the batch was submitted;
            the message is also shown in the widget and nothing already labeled changes.
        """
        position = self._target(index)
        try:
            self.controller.label(self.view.tiles[position].index, label)
        except ValueError as err:
            self._show_error(str(err))
            raise
        self._clear_error()
        self._advance(from_position=position)
        self._refresh()

    def accept(self, index: int | None = None) -> None:
        """Label the selected image (or ``index``) with the model's guess: one action when the guess is right."""
        position = self._target(index)
        self.label(int(self.query.predicted[position]), index=self.view.tiles[position].index)

    def skip(self, index: int | None = None) -> None:
        """Skip the selected image (or ``index``): the person cannot tell; then select the next open image."""
        position = self._target(index)
        try:
            self.controller.skip(self.view.tiles[position].index)
        except ValueError as err:
            self._show_error(str(err))
            raise
        self._clear_error()
        self._advance(from_position=position)
        self._refresh()

    def revert(self, index: int | None = None) -> None:
        """Return the selected image (or ``index``) to unlabeled: for a model's pseudo-label (tiles mark them)
        or any label or skip of this batch."""
        position = self._target(index)
        try:
            self.controller.unlabel(self.view.tiles[position].index)
        except ValueError as err:
            self._show_error(str(err))
            raise
        self._selected = position
        self._clear_error()
        self._refresh()

    def undo(self) -> Action:
        """Revert the last label or skip of this batch and select that image; returns the reverted action.

        Raises
        ------
        ValueError
            When the last action belongs to an earlier batch (a model was already trained on it) or there is
            none; shown in the widget too.
        """
        self._check_open()
        target = self.controller.undo_target(self.query)
        if target is None:
            message = f"Nothing to undo in this batch ({self.controller.why_no_undo()})."
            self._show_error(message)
            raise ValueError(message)
        self.controller.undo()
        self._selected = self._position(target.index, "index")
        self._clear_error()
        self._refresh()
        return target

    def submit(self) -> Batch:
        """Hand the batch to ``on_submit`` (buttons disabled meanwhile); returns the :class:`Batch`.

        A batch with neither a label nor a skip is refused (nothing would change). If ``on_submit`` raises, the
        error is shown, the buttons come back and the exception propagates.
        """
        self._check_open()
        batch = self.batch()
        if len(batch.labeled) == 0 and len(batch.skipped) == 0:
            message = "Nothing to submit: label or skip at least one image of this batch first."
            self._show_error(message)
            raise ValueError(message)
        self._busy = True
        self._clear_error()
        self.status.value = html.escape(
            f"Submitted: {len(batch.labeled)} labeled, {len(batch.skipped)} skipped, "
            f"{len(batch.unlabeled)} left for later."
        )
        self._refresh()
        if self.on_submit is not None:
            try:
                self.on_submit(batch)
            except Exception as err:
                self._busy = False
                self.status.value = ""
                message = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
                self._show_error(f"Submitting failed ({message}); your labels are saved.")
                self._refresh()
                raise
        return batch

    def press(self, key: str) -> None:
        """Do what pressing ``key`` in the page does (``"1"``, ``"a"``, ``"s"``, ``"enter"``, ``"backspace"``,
        ``"space"``, ``"arrowleft"``, ``"f"``, ...); errors go to the error line, as for a key press."""
        assert self.input is not None
        self.input.press(key)

    def open_full(self, index: int | None = None) -> None:
        """Show the selected image (or ``index``) at full resolution; :meth:`close_full` hides it."""
        position = self._position(index, "index") if index is not None else self._selected
        if position is None:  # pragma: no cover - a query is always shown after __init__
            return
        self._selected = position
        self.view.open_full(self.view.tiles[position].index)
        self._refresh()

    def close_full(self) -> None:
        self.view.close_full()

    def set_busy(self, busy: bool, message: str = "") -> None:
        """Disable (``busy=True``) or enable every button, with a status line (plain text, escaped)."""
        self._busy = bool(busy)
        self.status.value = html.escape(message)
        self._refresh()

    def finish(self, reason: str) -> None:
        """The session is over: every button is disabled and an action says so (``reason``, plain text)."""
        self._finished = str(reason)
        self.set_busy(True, "")

    def show_error(self, message: str) -> None:
        """Show ``message`` (plain text, escaped) in the widget's error line."""
        self._show_error(message)

    def clear_error(self) -> None:
        self._clear_error()

    def refresh(self) -> None:
        """Redraw states and buttons from the store (after labels changed elsewhere)."""
        self._refresh()

    # ------------------------------------------------------------------ internals

    def _act(self, action: str, *args: Any) -> None:
        if action == "label":
            self.label(*args)
        elif action == "accept":
            self.accept()
        elif action == "skip":
            self.skip()
        elif action == "undo":
            self.undo()
        elif action == "revert":
            self.revert()
        elif action == "submit":
            self.submit()
        elif action in ("next", "previous"):
            self.move(1 if action == "next" else -1)
        elif action in ("down", "up"):
            self.move(self._row_length() * (1 if action == "down" else -1))
        elif action == "full":
            if self.view.full_open:
                self.close_full()
            else:
                self.open_full()
        elif action == "close":
            self.close_full()
        elif action == "stale":
            message = "The batch changed before your key arrived, so it did nothing; press it again."
            self._show_error(message)
            raise ValueError(message)
        else:  # pragma: no cover - the input only sends the actions above
            raise ValueError(f"unknown action {action!r}")

    def _row_length(self) -> int:
        if self.columns is not None:
            return self.columns
        return max(1, min(len(self.view.tiles), 5))

    def _select_or_open(self, index: int) -> None:
        position = self._position(index, "index")
        if position == self._selected and not self.view.full_open:
            self.open_full(index)
        else:
            self.select(index)

    def _guard(self, action: Callable[..., Any], *args: Any) -> None:
        """Run a button's or key's action; its error is already on the error line, so it is logged, not re-raised
        (an exception escaping a widget callback ends up in a log panel nobody reads)."""
        try:
            # One action at a time, never interleaved with the session's background hand-over of held labels.
            with self.controller.lock:
                action(*args)
        except ValueError:
            pass
        except Exception as err:
            _log.exception("alnb widget action failed")
            if not self.error.value:
                self._show_error(f"{type(err).__name__}: {err}")

    def _position(self, index: Any, name: str) -> int:
        indices = self.query.indices.tolist()
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool) and int(index) in indices:
            return indices.index(int(index))
        message = f"{name}={index!r} is not in the current query; expected one of {indices}."
        self._show_error(message)
        raise ValueError(message)

    def _target(self, index: int | None) -> int:
        self._check_open()
        if index is None:
            if self._selected is None:  # pragma: no cover - a query is always shown after __init__
                raise ValueError("no image is selected.")
            return self._selected
        return self._position(index, "index")

    def _check_open(self) -> None:
        if self._finished is not None:
            message = f"This session is finished ({self._finished}); there are no more batches. Your labels are saved."
            self._show_error(message)
            raise ValueError(message)
        if self._busy:
            message = "This batch was submitted; the next one appears when the model is ready."
            self._show_error(message)
            raise ValueError(message)

    def _advance(self, from_position: int) -> None:
        """Select the next image after ``from_position`` with neither a person's label nor a skip (wrapping)."""
        n = len(self.view.tiles)
        for step in range(1, n + 1):
            position = (from_position + step) % n
            kind, _, pseudo = self.controller.state(self.view.tiles[position].index)
            if kind == "open" or pseudo:  # a model's pseudo-label still waits for a person's look
                self._selected = position
                return
        # Every image is done: keep the selection where it is, so a wrong label can still be corrected.

    def _refresh(self) -> None:
        with self.controller.lock:
            self._redraw()

    def _redraw(self) -> None:
        states = [self.controller.state(t.index) for t in self.view.tiles]
        self.view.refresh(states, self._selected, self._busy)
        batch_labeled = sum(1 for s in states if s[0] == "label")
        batch_skipped = sum(1 for s in states if s[0] == "skip")
        cap = f"budget {self.budget}" if self.budget is not None else f"pool of {len(self.pool)}"
        self.progress_bar.value = batch_labeled + batch_skipped
        if self.controller.holding:
            # The pool's store belongs to the background round meanwhile: only the holding store is read.
            total = "held until the model is trained"
        else:
            total = f"{len(self.pool.store.labels)} labeled in total ({cap})"
        self.progress_text.value = (
            f"<span class='alnb-progress'>{batch_labeled} / {len(self.query)} labeled in this batch"
            f" · {batch_skipped} skipped · {total}</span>"
        )
        assert self.input is not None
        self.input.set_disabled(
            self._busy,
            can_undo=self.controller.undo_target(self.query) is not None,
            can_accept=self._selected is not None,
        )

    def _show_error(self, message: str) -> None:
        self.error.value = f"<span class='alnb-error' style='color:#b00020'>⚠ {html.escape(message)}</span>"

    def _clear_error(self) -> None:
        self.error.value = ""
