"""A grid of the queried images with one button per class: the person's side of an active-learning round."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np
import numpy.typing as npt

from alnb.learner import Query
from alnb.pool import Pool
from alnb.store import Action
from alnb.widgets._images import row_image, to_png

__all__ = ["Batch", "LabelingWidget", "check_display_names"]

IntArray = npt.NDArray[np.int64]
_log = logging.getLogger(__name__)

# Tile borders: the selected tile stands out most; labeled and skipped tiles are told apart at a glance.
_BORDER_SELECTED = "3px solid #1565c0"
_BORDER_LABELED = "2px solid #2e7d32"
_BORDER_SKIPPED = "2px dashed #9e9e9e"
_BORDER_OPEN = "2px solid #e0e0e0"


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
    """

    query: Query
    labeled: IntArray
    labels: IntArray
    skipped: IntArray
    unlabeled: IntArray


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
    for field in ("scores", "predicted", "confidence"):
        if len(getattr(query, field)) != n:
            raise ValueError(
                f"query.{field} has {len(getattr(query, field))} items but query.indices has {n}; "
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


class _Tile:
    """One queried image with its caption, its state line and a select button."""

    def __init__(self, position: int, index: int, png: bytes, caption: str, size: int) -> None:
        self.position = position
        self.index = index
        self.select_button = w.Button(
            description=f"#{index}",
            tooltip=f"select image #{index}",
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


class LabelingWidget(w.VBox):
    """Label the items of one query: the images in a grid, one button per class, skip, undo and submit.

    Every click is written at once to the pool's :class:`~alnb.store.LabelStore` (for a file store: appended
    and fsync-ed before the click returns), so closing the notebook or killing the kernel never loses a label.
    Nothing here blocks the kernel: no ``input()``, no polling, no waiting; button callbacks drive everything.

    Using it: click a tile's ``#index`` button to select it (the first image is selected at the start), then
    click a class button; the tile gets the label and the selection moves to the next image without one.
    Clicking a class on a labeled tile relabels it. *Skip* sets the selected image aside (it leaves the
    pool's unlabeled items), *Undo* reverts the last action of this batch, *Submit batch* hands the batch to
    ``on_submit``. Images left without a label or skip stay in the unlabeled pool.

    Each tile shows why the model asked (the strategy and its score), the model's predicted class with its
    confidence, and the current label. Class names and file names are HTML-escaped wherever they are rendered
    as HTML.

    There are no keyboard shortcuts: JupyterLab takes number keys in command mode, and capturing keys
    reliably needs custom JavaScript, which breaks across front ends (JupyterLab 4, Notebook 7, VS Code,
    Colab). Only core ipywidgets are used, so it works wherever ipywidgets 8 does.

    Parameters
    ----------
    pool : Pool
        The pool the query was made from; its store receives every action.
    query : Query
        What to label (from :meth:`alnb.ActiveLearner.query`).
    on_submit : callable, optional
        Called with a :class:`Batch` when *Submit batch* is pressed. While it runs the buttons are disabled;
        it may call :meth:`set_query` to show the next batch. If it raises, the error is shown and the
        buttons come back (no label is lost).
    image_column : str
        Image column of the pool's dataset.
    budget : int, optional
        Total label budget, shown in the progress line (default: the pool size).
    annotator : str
        Recorded with every action.
    tile_size : int
        Side of each image in pixels; tiny images are enlarged by a whole factor with nearest-neighbour
        resampling so their pixels stay sharp.
    columns : int
        Tiles per row.
    caption_column : str, optional
        Dataset column shown under each image; by default ``"path"`` when the dataset has one.

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
        tile_size: int = 96,
        columns: int = 5,
        caption_column: str | None = None,
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
        if isinstance(tile_size, bool) or not isinstance(tile_size, int) or not 16 <= tile_size <= 1024:
            raise ValueError(f"tile_size must be an integer in [16, 1024] pixels, got {tile_size!r}.")
        if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
            raise ValueError(f"columns must be a positive integer, got {columns!r}.")
        if not isinstance(annotator, str) or not annotator.strip():
            raise ValueError(f"annotator must be a non-empty string, got {annotator!r}.")
        self.pool = pool
        self.on_submit = on_submit
        self.image_column = image_column
        self.caption_column = caption_column
        self.budget = budget
        self.annotator = annotator
        self.tile_size = tile_size
        self.columns = columns

        self.title = w.HTML()
        self.progress_bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="240px"))
        self.progress_text = w.HTML()
        self.grid = w.GridBox(
            layout=w.Layout(grid_template_columns=f"repeat({columns}, {tile_size + 24}px)", grid_gap="6px")
        )
        self.class_buttons = [
            w.Button(description=name, tooltip=f"label the selected image {name!r}", button_style="info")
            for name in self._class_names
        ]
        for class_id, button in enumerate(self.class_buttons):
            button.add_class("alnb-class-button")
            button.on_click(lambda _b, c=class_id: self._guard(self.label, c))
        self.skip_button = w.Button(
            description="Skip", icon="forward", tooltip="cannot tell: set this image aside"
        )
        self.undo_button = w.Button(
            description="Undo", icon="undo", tooltip="revert the last action of this batch"
        )
        self.submit_button = w.Button(
            description="Submit batch",
            icon="check",
            button_style="success",
            tooltip="train on the labels and continue",
        )
        self.skip_button.on_click(lambda _b: self._guard(self.skip))
        self.undo_button.on_click(lambda _b: self._guard(self.undo))
        self.submit_button.on_click(lambda _b: self._guard(self.submit))
        self.status = w.HTML()
        self.error = w.HTML()
        self.add_class("alnb-labeling")
        self.children = [
            self.title,
            w.HBox([self.progress_bar, self.progress_text], layout=w.Layout(align_items="center")),
            self.grid,
            w.HTML("<b>Label the selected image:</b>"),
            w.HBox(self.class_buttons, layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.skip_button, self.undo_button, self.submit_button]),
            self.status,
            self.error,
        ]
        self._tiles: list[_Tile] = []
        self._selected: int | None = None
        self._busy = False
        self.query: Query
        self.set_query(query)

    # ------------------------------------------------------------------ public state

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def selected(self) -> int | None:
        """Dataset index of the selected image (``None`` only before a query is shown)."""
        return None if self._selected is None else self._tiles[self._selected].index

    @property
    def submitted(self) -> bool:
        """True after *Submit batch* until the next :meth:`set_query` (the buttons are disabled meanwhile)."""
        return self._busy

    @property
    def select_buttons(self) -> tuple[w.Button, ...]:
        """Each tile's ``#index`` button (selects that image), in query order."""
        return tuple(t.select_button for t in self._tiles)

    @property
    def tiles(self) -> tuple[w.VBox, ...]:
        """The tile widgets, in query order."""
        return tuple(t.box for t in self._tiles)

    def batch(self) -> Batch:
        """The query's items grouped by their current state (labeled, skipped, untouched)."""
        labels = self.pool.store.labels
        skipped = self.pool.store.skipped
        labeled = [i for i in self.query.indices.tolist() if i in labels]
        return Batch(
            query=self.query,
            labeled=np.asarray(labeled, dtype=np.int64),
            labels=np.asarray([labels[i] for i in labeled], dtype=np.int64),
            skipped=np.asarray([i for i in self.query.indices.tolist() if i in skipped], dtype=np.int64),
            unlabeled=np.asarray(
                [i for i in self.query.indices.tolist() if i not in labels and i not in skipped],
                dtype=np.int64,
            ),
        )

    # ------------------------------------------------------------------ actions

    def set_query(self, query: Query) -> None:
        """Show a new query (the next batch) and enable the buttons."""
        try:
            query = _check_query(query, self.pool)
        except ValueError as err:
            self._show_error(str(err))
            raise
        self.query = query
        self._tiles = [self._make_tile(p, int(i)) for p, i in enumerate(query.indices)]
        self.grid.children = [t.box for t in self._tiles]
        self.progress_bar.max = len(query)
        self.title.value = (
            f"<h4 style='margin:4px 0'>Round {int(query.round)}: {len(query)} images chosen by "
            f"<code>{html.escape(query.strategy)}</code></h4>"
        )
        self._selected = 0
        self._busy = False
        self._advance(from_position=-1)
        self.status.value = ""
        self._clear_error()
        self._refresh()

    def select(self, index: int) -> None:
        """Select the image with dataset index ``index`` (it must be in the current query)."""
        self._selected = self._position(index, "index")
        self._clear_error()
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
            self.pool.label([self._tiles[position].index], [label], annotator=self.annotator)
        except ValueError as err:
            self._show_error(str(err))
            raise
        self._clear_error()
        self._advance(from_position=position)
        self._refresh()

    def skip(self, index: int | None = None) -> None:
        """Skip the selected image (or ``index``): the person cannot tell; then select the next open image."""
        position = self._target(index)
        try:
            self.pool.skip(self._tiles[position].index, annotator=self.annotator)
        except ValueError as err:
            self._show_error(str(err))
            raise
        self._clear_error()
        self._advance(from_position=position)
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
        target = self.pool.store.undo_target()
        in_batch = target is not None and target.index in set(self.query.indices.tolist())
        if target is None or not in_batch or target.round != self.pool.round:
            why = (
                "there is nothing to undo"
                if target is None
                else "the last action belongs to an earlier batch"
            )
            message = f"Nothing to undo in this batch ({why})."
            self._show_error(message)
            raise ValueError(message)
        self.pool.undo(annotator=self.annotator)
        self._selected = self._position(target.index, "index")
        self._clear_error()
        self._refresh()
        return target

    def submit(self) -> Batch:
        """Hand the batch to ``on_submit`` (buttons disabled meanwhile); returns the :class:`Batch`.

        If ``on_submit`` raises, the error is shown, the buttons come back and the exception propagates.
        """
        self._check_open()
        batch = self.batch()
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
                self._show_error(f"Submitting failed ({type(err).__name__}: {err}); your labels are saved.")
                self._refresh()
                raise
        return batch

    def set_busy(self, busy: bool, message: str = "") -> None:
        """Disable (``busy=True``) or enable every button, with a status line (plain text, escaped)."""
        self._busy = bool(busy)
        self.status.value = html.escape(message)
        self._refresh()

    def show_error(self, message: str) -> None:
        """Show ``message`` (plain text, escaped) in the widget's error line."""
        self._show_error(message)

    # ------------------------------------------------------------------ internals

    def _guard(self, action: Callable[..., Any], *args: Any) -> None:
        """Run a button's action; its error is already on the error line, so it is logged, not re-raised
        (an exception escaping a widget callback ends up in a log panel nobody reads)."""
        try:
            action(*args)
        except ValueError:
            pass
        except Exception as err:
            _log.exception("alnb widget action failed")
            if not self.error.value:
                self._show_error(f"{type(err).__name__}: {err}")

    def _make_tile(self, position: int, index: int) -> _Tile:
        png = to_png(row_image(self.pool.dataset, index, self.image_column), self.tile_size)
        predicted = int(self.query.predicted[position])
        confidence = float(self.query.confidence[position])
        score = float(self.query.scores[position])
        why = "random pick" if np.isnan(score) else f"score {score:.3g}"
        lines = []
        if self.caption_column is not None:
            name = html.escape(str(self.pool.dataset[index][self.caption_column]))
            lines.append(f"<code style='word-break:break-all'>{name}</code>")
        lines.append(f"model: {html.escape(self._class_names[predicted])} ({confidence:.0%})")
        lines.append(f"<span style='color:#616161'>why: {html.escape(self.query.strategy)} {why}</span>")
        caption = "<div style='font-size:11px;line-height:1.3'>" + "<br>".join(lines) + "</div>"
        tile = _Tile(position, index, png, caption, self.tile_size)
        tile.select_button.on_click(lambda _b, i=index: self._guard(self.select, i))
        return tile

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
        if self._busy:
            message = "This batch was submitted; wait for the next one."
            self._show_error(message)
            raise ValueError(message)

    def _advance(self, from_position: int) -> None:
        """Select the next image after ``from_position`` with neither label nor skip (wrapping around)."""
        labels = self.pool.store.labels
        skipped = self.pool.store.skipped
        n = len(self._tiles)
        for step in range(1, n + 1):
            position = (from_position + step) % n
            index = self._tiles[position].index
            if index not in labels and index not in skipped:
                self._selected = position
                return
        # Every image is done: keep the selection where it is, so a wrong label can still be corrected.

    def _refresh(self) -> None:
        labels = self.pool.store.labels
        skipped = self.pool.store.skipped
        done = 0
        for tile in self._tiles:
            if tile.index in labels:
                name = self._class_names[labels[tile.index]]
                tile.state.value = f"<b style='color:#2e7d32'>✓ {html.escape(name)}</b>"
                border = _BORDER_LABELED
                done += 1
            elif tile.index in skipped:
                tile.state.value = "<i style='color:#757575'>skipped</i>"
                border = _BORDER_SKIPPED
                done += 1
            else:
                tile.state.value = "<span style='color:#9e9e9e'>not labeled</span>"
                border = _BORDER_OPEN
            selected = tile.position == self._selected and not self._busy
            tile.box.layout.border = _BORDER_SELECTED if selected else border
            tile.select_button.button_style = "primary" if selected else ""
            tile.select_button.disabled = self._busy
        batch = self.batch()
        total = len(labels)
        cap = f"budget {self.budget}" if self.budget is not None else f"pool of {len(self.pool)}"
        self.progress_bar.value = done
        self.progress_text.value = (
            f"<span class='alnb-progress'>{len(batch.labeled)} / {len(self.query)} labeled in this batch"
            f" · {len(batch.skipped)} skipped · {total} labeled in total ({cap})</span>"
        )
        for button in (*self.class_buttons, self.skip_button, self.submit_button):
            button.disabled = self._busy
        target = self.pool.store.undo_target()
        self.undo_button.disabled = self._busy or not (
            target is not None
            and target.round == self.pool.round
            and target.index in set(self.query.indices.tolist())
        )

    def _show_error(self, message: str) -> None:
        self.error.value = f"<span class='alnb-error' style='color:#b00020'>⚠ {html.escape(message)}</span>"

    def _clear_error(self) -> None:
        self.error.value = ""
