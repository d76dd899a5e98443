"""The in-memory label log: the state machine of labeling actions and its undo stack.

Semantics (actions applied in order rebuild the state)
-------------------------------------------------------
Each dataset-wide index is in exactly one state: *unlabeled*, *labeled with class c*, or *skipped*.

- ``label``: the index becomes labeled with ``label`` (relabeling, or labeling a skipped index, is allowed).
- ``skip``: the index becomes skipped (a label it had is withdrawn). Skipping a skipped index is refused.
- ``unlabel``: a labeled or skipped index becomes unlabeled. Unlabeling an unlabeled index is refused.
- ``undo``: an editor's undo, without redo. Every ``label`` / ``skip`` / ``unlabel`` action is pushed on a
  stack; ``undo`` pops the most recent action not yet undone and puts its index back into exactly the
  state it had just before that action. The undo record repeats the undone action's ``index`` and
  ``label`` (applying checks them). :meth:`LabelLog.undo_target` says which action an undo would revert.

A :class:`LabelLog` knows nothing about storage: a :class:`~alnb.store.LabelStore` feeds it the records
its backend holds, and applies a batch only after the backend has stored it durably.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = ["ACTION_TYPES", "Action", "ActionType", "LabelLog", "LabelState", "now"]

ActionType = Literal["label", "skip", "unlabel", "undo"]
ACTION_TYPES: tuple[str, ...] = ("label", "skip", "unlabel", "undo")


def now() -> str:
    """The current UTC time as an ISO string with milliseconds (the records' ``time``)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Action:
    """One record: what was done to which dataset-wide index, in which round, by whom and when.

    For ``type="undo"``, ``index`` and ``label`` repeat those of the action that was undone.
    """

    type: ActionType
    index: int
    label: int | None
    round: int
    annotator: str
    time: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record, keys in file order."""
        return asdict(self)


@dataclass(frozen=True)
class LabelState:
    """A snapshot of a store; equal snapshots mean the same labels, skips and history."""

    labels: dict[int, int]
    skipped: frozenset[int]
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class _Entry:
    """Current state of one index: labeled (``label`` set) or skipped (``label`` None), set by ``action``."""

    label: int | None
    action: Action


class LabelLog:
    """The actions applied so far, the state they give each index, and the undo stack.

    Parameters
    ----------
    num_classes : int
        Label ``c`` of a ``label`` action must lie in ``[0, num_classes)``.

    Examples
    --------
    >>> log = LabelLog(2)
    >>> log.apply(Action("label", 4, 1, 0, "human", now()))
    >>> log.undo_target().index
    4
    >>> log.labels
    {4: 1}
    """

    def __init__(self, num_classes: int) -> None:
        self._num_classes = int(num_classes)
        self._actions: list[Action] = []
        self._entries: dict[int, _Entry] = {}
        # Applied actions not yet undone, each with the state its index had just before it.
        self._stack: list[tuple[Action, _Entry | None]] = []

    # ------------------------------------------------------------------ reading
    @property
    def num_classes(self) -> int:
        return self._num_classes

    def __len__(self) -> int:
        """Number of actions applied (undo actions included)."""
        return len(self._actions)

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every action applied, in order."""
        return tuple(self._actions)

    def actions_since(self, start: int) -> tuple[Action, ...]:
        """The actions applied after the first ``start`` ones."""
        return tuple(self._actions[start:])

    @property
    def labels(self) -> dict[int, int]:
        """Current labels, index → class id, sorted by index (a copy)."""
        return {i: label for i, label, _ in self.labeled()}

    @property
    def skipped(self) -> frozenset[int]:
        """Indices currently skipped."""
        return frozenset(i for i, e in self._entries.items() if e.label is None)

    @property
    def last_round(self) -> int:
        """The largest round number of any action; 0 when there is none."""
        return max((a.round for a in self._actions), default=0)

    @property
    def can_undo(self) -> bool:
        """Whether an action is left to undo."""
        return bool(self._stack)

    def undo_target(self) -> Action | None:
        """The action an ``undo`` would revert now (the latest one not yet undone); ``None`` when none is left."""
        return self._stack[-1][0] if self._stack else None

    def current_action(self, index: int) -> Action | None:
        """The action that set the current state of ``index``; ``None`` when it is unlabeled."""
        entry = self._entries.get(int(index))
        return None if entry is None else entry.action

    def labeled(self) -> Iterator[tuple[int, int, Action]]:
        """``(index, label, action that set it)`` of every labeled index, sorted by index."""
        for i, e in sorted(self._entries.items()):
            if e.label is not None:
                yield i, e.label, e.action

    def labels_in_round(self, round: int) -> dict[int, int]:
        """Current labels set by an action of round ``round`` (index → class id, sorted)."""
        return {i: label for i, label, action in self.labeled() if action.round == round}

    def state(self) -> LabelState:
        """A snapshot of the labels, the skipped indices and the full action list."""
        return LabelState(self.labels, self.skipped, self.actions)

    # ------------------------------------------------------------------ transitions
    def check(self, action: Action, pending: Mapping[int, _Entry | None] | None = None) -> None:
        """Refuse (``ValueError``) an action meaningless in the current state.

        ``pending`` overlays the states that earlier items of the same batch would give their indices.
        """
        pending = {} if pending is None else pending
        entry = pending[action.index] if action.index in pending else self._entries.get(action.index)
        if action.type == "label" and (action.label is None or not 0 <= action.label < self._num_classes):
            raise ValueError(f"label is {action.label!r}, expected a class id in [0, {self._num_classes})")
        if action.type == "skip" and entry is not None and entry.label is None:
            raise ValueError(f"index {action.index} is already skipped.")
        if action.type == "unlabel" and entry is None:
            raise ValueError(f"index {action.index} is neither labeled nor skipped; nothing to unlabel.")
        if action.type == "undo":
            if not self._stack:
                raise ValueError("undo with nothing left to undo.")
            target = self._stack[-1][0]
            if (target.index, target.label) != (action.index, action.label):
                raise ValueError(
                    f"undo names index {action.index} label {action.label}, but the action to undo is "
                    f"{target.type} of index {target.index} label {target.label}."
                )

    def validate(self, batch: Iterable[Action]) -> None:
        """Check a batch as if applied item by item, without applying it (an undo must be alone in its batch)."""
        pending: dict[int, _Entry | None] = {}
        for a in batch:
            self.check(a, pending)
            pending[a.index] = None if a.type == "unlabel" else _Entry(a.label, a)

    def apply(self, action: Action) -> None:
        """Check ``action`` against the current state, then make it the latest action."""
        self.check(action)
        if action.type == "undo":
            target, previous = self._stack.pop()
            if previous is None:
                self._entries.pop(target.index, None)
            else:
                self._entries[target.index] = previous
        else:
            self._stack.append((action, self._entries.get(action.index)))
            if action.type == "unlabel":
                del self._entries[action.index]
            else:
                self._entries[action.index] = _Entry(action.label, action)
        self._actions.append(action)
