"""The in-memory label log: the state machine of labeling actions and its undo stack.

Semantics (actions applied in order rebuild the state)
-------------------------------------------------------
Each dataset-wide index is in exactly one state: *unlabeled*, *labeled with class c*, or *skipped*.

- ``label``: the index becomes labeled with ``label`` (relabeling, or labeling a skipped index, is allowed).
- ``skip``: the index becomes skipped (a label it had is withdrawn). Skipping a skipped index is refused.
- ``unlabel``: a labeled or skipped index becomes unlabeled. Unlabeling an unlabeled index is refused.
- ``undo``: an editor's undo, without redo, scoped to one *session* (one opened
  :class:`~alnb.store.LabelStore`; records written before sessions existed share the session ``None``).
  ``undo`` reverts the session's most recent action not yet undone; the index then takes the state its
  latest surviving (not undone) action gives, so undoing one's own label never reverts a label another
  session gave later. Within one session, with no other writer, this is exactly "back to the state just
  before that action". The undo record repeats the undone action's ``index`` and ``label`` (applying
  checks them) and names the undoing session. :meth:`LabelLog.undo_target` says which action an undo of
  a session would revert.

Pseudo-labels (``pseudo=True``, given by a model) are labels like any other for the state; a later human
label replaces one. :attr:`LabelLog.human_labels` and :attr:`LabelLog.pseudo_labels` split them.

Conflicts: the *votes* on an index are, per annotator, their latest surviving human label since the
index's latest surviving ``skip`` / ``unlabel``. Two votes of different classes are a conflict
(:meth:`LabelLog.conflicts`); a :data:`ConflictRule` decides the label: ``"latest"`` (the most recent
vote: the plain state), ``"majority"`` (most votes, ties to the most recent) or ``"ask"`` (no label
until someone resolves it).

A :class:`LabelLog` knows nothing about storage: a :class:`~alnb.store.LabelStore` feeds it the records
its backend holds, and applies a batch only after the backend has stored it durably.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = [
    "ACTION_TYPES",
    "CONFLICT_RULES",
    "Action",
    "ActionType",
    "Conflict",
    "ConflictRule",
    "LabelLog",
    "LabelState",
    "now",
]

ActionType = Literal["label", "skip", "unlabel", "undo"]
ACTION_TYPES: tuple[str, ...] = ("label", "skip", "unlabel", "undo")
ConflictRule = Literal["latest", "majority", "ask"]
CONFLICT_RULES: tuple[str, ...] = ("latest", "majority", "ask")


def now() -> str:
    """The current UTC time as an ISO string with milliseconds (the records' ``time``)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Action:
    """One record: what was done to which dataset-wide index, in which round, by whom and when.

    For ``type="undo"``, ``index`` and ``label`` repeat those of the action that was undone. ``pseudo``
    marks a label a model gave (not a person); ``session`` names the opened store that wrote the action
    (``None`` in records written before sessions existed). Both are written to the record only when set,
    so records without them read exactly as before.
    """

    type: ActionType
    index: int
    label: int | None
    round: int
    annotator: str
    time: str
    pseudo: bool = False
    session: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record, keys in file order (``pseudo`` only when true, ``session`` only when set)."""
        record = asdict(self)
        if not self.pseudo:
            del record["pseudo"]
        if self.session is None:
            del record["session"]
        return record


@dataclass(frozen=True)
class LabelState:
    """A snapshot of a store; equal snapshots mean the same labels, skips and history."""

    labels: dict[int, int]
    skipped: frozenset[int]
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Conflict:
    """Annotators disagreeing on one index: their votes and the label a rule gives.

    Attributes
    ----------
    index : int
        The dataset-wide index.
    votes : dict of str to int
        Each annotator's current vote (their latest label since the index was last reset), oldest first.
    actions : tuple of Action
        The label actions behind ``votes``, in the same order.
    latest : int
        The most recent vote (what the rule ``"latest"`` gives).
    majority : int
        The class with most votes, ties to the most recent of them (what ``"majority"`` gives).
    """

    index: int
    votes: dict[str, int]
    actions: tuple[Action, ...]
    latest: int
    majority: int

    def resolution(self, rule: ConflictRule) -> int | None:
        """The label ``rule`` gives: ``latest``, ``majority``, or ``None`` for ``"ask"``."""
        return {"latest": self.latest, "majority": self.majority, "ask": None}[rule]


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
        self._alive: list[bool] = []  # per position: an action not undone (undo records are never alive)
        self._by_index: dict[int, list[int]] = {}  # positions of each index's non-undo actions
        self._stacks: dict[str | None, list[int]] = {}  # per session: positions of its surviving actions
        self._entries: dict[int, _Entry] = {}  # current state, from each index's latest surviving action
        self._contested: set[int] = set()  # indices that ever had human labels by two annotators

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
        """Current labels (human and pseudo), index → class id, sorted by index (a copy)."""
        return {i: label for i, label, _ in self.labeled()}

    @property
    def human_labels(self) -> dict[int, int]:
        """Current labels a person gave (pseudo-labels left out), index → class id, sorted by index."""
        return {i: label for i, label, a in self.labeled() if not a.pseudo}

    @property
    def pseudo_labels(self) -> dict[int, int]:
        """Current pseudo-labels (given by a model), index → class id, sorted by index."""
        return {i: label for i, label, a in self.labeled() if a.pseudo}

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
        """Whether an action of the session ``None`` (records without a session) is left to undo."""
        return self.undo_target() is not None

    def undo_target(self, session: str | None = None) -> Action | None:
        """The action an ``undo`` of ``session`` would revert now (its latest one not yet undone), or ``None``."""
        stack = self._stacks.get(session)
        return self._actions[stack[-1]] if stack else None

    def current_action(self, index: int) -> Action | None:
        """The action that set the current state of ``index``; ``None`` when it is unlabeled."""
        entry = self._entries.get(int(index))
        return None if entry is None else entry.action

    def labeled(self, rule: ConflictRule = "latest") -> Iterator[tuple[int, int, Action]]:
        """``(index, label, action that set it)`` of every labeled index under ``rule``, sorted by index.

        Under ``"latest"`` this is the plain state. Under ``"majority"`` a conflicting index gets its
        majority label (the action: the latest vote for it); under ``"ask"`` it is left out.
        """
        conflicts = {} if rule == "latest" else {c.index: c for c in self.conflicts()}
        for i, e in sorted(self._entries.items()):
            if e.label is None:
                continue
            c = conflicts.get(i)
            if c is None:
                yield i, e.label, e.action
            elif rule == "majority":
                yield i, c.majority, next(a for a in reversed(c.actions) if a.label == c.majority)

    def labels_in_round(self, round: int, rule: ConflictRule = "latest") -> dict[int, int]:
        """Current labels set by an action of round ``round`` (index → class id, sorted)."""
        return {i: label for i, label, action in self.labeled(rule) if action.round == round}

    def votes(self, index: int) -> dict[str, Action]:
        """Each annotator's latest surviving human label of ``index`` since its latest surviving reset.

        A reset is a ``skip`` or ``unlabel``; pseudo-labels are not votes. Oldest vote first.
        """
        out: dict[str, Action] = {}
        for p in self._by_index.get(int(index), ()):
            if not self._alive[p]:
                continue
            a = self._actions[p]
            if a.type != "label":
                out.clear()
            elif not a.pseudo:
                out.pop(a.annotator, None)  # a person's relabel replaces their own earlier vote
                out[a.annotator] = a
        return out

    def conflicts(self) -> list[Conflict]:
        """Indices whose votes disagree (now labeled by a person), sorted by index."""
        out = []
        for i in sorted(self._contested):
            entry = self._entries.get(i)
            if entry is None or entry.label is None or entry.action.pseudo:
                continue
            votes = self.votes(i)
            labels = [a.label for a in votes.values() if a.label is not None]
            if len(set(labels)) < 2:
                continue
            counts = {c: labels.count(c) for c in labels}
            best = max(counts.values())
            majority = next(c for c in reversed(labels) if counts[c] == best)  # ties: the most recent
            out.append(
                Conflict(
                    i,
                    {who: a.label for who, a in votes.items() if a.label is not None},
                    tuple(votes.values()),
                    labels[-1],
                    majority,
                )
            )
        return out

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
            target = self.undo_target(action.session)
            if target is None:
                raise ValueError(f"undo with nothing left to undo (session {action.session!r}).")
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
        position = len(self._actions)
        if action.type == "undo":
            target = self._stacks[action.session].pop()
            self._alive[target] = False
            self._alive.append(False)
            self._actions.append(action)
            self._settle(self._actions[target].index)
            return
        self._alive.append(True)
        self._actions.append(action)
        history = self._by_index.setdefault(action.index, [])
        history.append(position)
        self._stacks.setdefault(action.session, []).append(position)
        if action.type == "unlabel":
            del self._entries[action.index]
        else:
            self._entries[action.index] = _Entry(action.label, action)
        if action.type == "label" and not action.pseudo and action.index not in self._contested:
            who = {self._actions[p].annotator for p in history if self._is_vote(self._actions[p])}
            if len(who) > 1:
                self._contested.add(action.index)

    @staticmethod
    def _is_vote(action: Action) -> bool:
        return action.type == "label" and not action.pseudo

    def _settle(self, index: int) -> None:
        """Set ``index``'s state from its latest surviving action (after one of its actions was undone)."""
        for p in reversed(self._by_index.get(index, ())):
            if self._alive[p]:
                a = self._actions[p]
                if a.type == "unlabel":
                    break
                self._entries[index] = _Entry(a.label, a)
                return
        self._entries.pop(index, None)
