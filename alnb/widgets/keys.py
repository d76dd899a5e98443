"""Keyboard shortcuts for the labeling widget: a tiny anywidget (an ES module, no build step, no labextension).

The module makes the enclosing labeling widget focusable and listens for keys **on it only**: a key acts
only while focus is inside the widget (click it once), so JupyterLab's and Notebook's command-mode keys keep
working everywhere else. Handled keys are stopped there (``preventDefault``, ``stopPropagation`` and
Lumino's ``data-lm-suppress-shortcuts``), so ``a`` does not also insert a cell. Keys typed into a text field
are left alone. Every handled key is sent to the kernel as one message; the kernel answers with an
acknowledgement after it has updated the widgets, and the page keeps the round-trip times in
``window.alnbKeyLatencies`` and the kernel's own share in ``window.alnbKernelMs`` (milliseconds), which the
browser benchmark reads.

When ``anywidget`` is not installed, :func:`keyboard_control` returns ``None`` and the buttons work alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ESM", "keyboard_control"]

_log = logging.getLogger(__name__)

ESM = r"""
function render({ model, el }) {
  el.classList.add("alnb-keys");
  const hint = document.createElement("span");
  hint.className = "alnb-keys-hint";
  hint.style.cssText = "font-size:12px;padding:2px 6px;border-radius:4px;";
  el.appendChild(hint);
  const setHint = (on) => {
    hint.textContent = on ? "\u2328 keys on: " + model.get("help") : "\u2328 click the widget to use the keys";
    hint.style.background = on ? "#e3f2fd" : "#f5f5f5";
    hint.dataset.active = on ? "1" : "0";
  };
  setHint(false);
  const pending = new Map();
  window.alnbKeyLatencies = window.alnbKeyLatencies || [];
  window.alnbKernelMs = window.alnbKernelMs || [];
  let seq = 0;
  let root = null;
  let gridChanged = -1e9;
  // New tiles: the tile grid's own children change (its tiles' contents changing is a label, not a new batch).
  const watch = new MutationObserver((mutations) => {
    if (mutations.some((m) => m.target.classList && m.target.classList.contains("alnb-grid"))) {
      gridChanged = performance.now();
    }
  });
  const onKey = (ev) => {
    const t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    let key = ev.key;
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && key.toLowerCase() === "z") key = "ctrl+z";
    else if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    else if (key === " ") key = ev.shiftKey ? "shift+space" : "space";
    else if (key.length === 1) key = key.toLowerCase();
    const keymap = model.get("keymap");
    if (!(key in keymap)) return;
    ev.preventDefault();
    ev.stopPropagation();
    seq += 1;
    const now = performance.now();
    pending.set(seq, now);
    // The batch this key was meant for: the kernel refuses a key that arrives after the batch changed, and
    // one pressed in the first moments of new tiles (meant for the images shown before).
    const fresh = now - gridChanged >= model.get("settle_ms");
    model.send({ action: keymap[key], key: key, seq: seq, generation: model.get("generation"), fresh: fresh });
  };
  model.on("msg:custom", (msg) => {
    if (msg && msg.ack !== undefined && pending.has(msg.ack)) {
      window.alnbKeyLatencies.push(performance.now() - pending.get(msg.ack));
      window.alnbKernelMs.push(msg.kernel_ms);
      pending.delete(msg.ack);
    }
  });
  const onIn = () => setHint(true);
  const onOut = (e) => { if (!root || !root.contains(e.relatedTarget)) setHint(false); };
  let tries = 0;
  const attach = () => {
    // el joins the page after render returns; the scope is the labeling widget around it.
    root = el.closest(model.get("scope"));
    if (!root) { if (tries++ < 600) requestAnimationFrame(attach); return; }
    if (!root.hasAttribute("tabindex")) root.tabIndex = 0;
    root.setAttribute("data-lm-suppress-shortcuts", "true");
    root.addEventListener("keydown", onKey);
    // The grid may render after this module: watch the whole widget.
    watch.observe(root, { childList: true, subtree: true });
    root.addEventListener("focusin", onIn);
    root.addEventListener("focusout", onOut);
    // After a click on a button inside, focus the widget itself: Enter or Space then never re-clicks that button.
    root.addEventListener("click", (e) => {
      if (e.target && e.target.closest && e.target.closest("button")) root.focus({ preventScroll: true });
    });
  };
  requestAnimationFrame(attach);
  return () => {
    watch.disconnect();
    if (root) {
      root.removeEventListener("keydown", onKey);
      root.removeEventListener("focusin", onIn);
      root.removeEventListener("focusout", onOut);
    }
  };
}
export default { render };
"""


def keyboard_control(
    keymap: Mapping[str, str],
    on_action: Callable[[str], Any],
    *,
    scope: str,
    help: str = "",
    on_stale: Callable[[str], Any] | None = None,
) -> Any:
    """A widget that turns keys pressed inside the element matching CSS ``scope`` into ``on_action(name)``.

    Parameters
    ----------
    keymap : mapping of str to str
        Key (``"1"``, ``"a"``, ``"enter"``, ``"arrowleft"``, ``"space"``, ``"ctrl+z"``, ...; single letters
        lower-case) to action name.
    on_action : callable
        Called in the kernel with the action name; the acknowledgement is sent after it returns.
    scope : str
        CSS selector of the ancestor element that takes focus and receives keys.
    help : str
        Short text shown while the keys are active.
    on_stale : callable, optional
        Called instead of ``on_action`` for a key meant for an earlier batch: pressed before the page had the
        latest ``generation`` (the batch changed while the key was on its way), or within ``settle_ms``
        (400 ms) of new tiles appearing (too soon to have seen them); by default such keys are dropped.

    Returns
    -------
    anywidget.AnyWidget or None
        ``None`` when anywidget is not installed (the buttons still work).
    """
    try:
        import anywidget
        import traitlets
    except ImportError:  # pragma: no cover - anywidget is a dependency; kept optional for lean installs
        _log.info("anywidget is not installed: keyboard shortcuts are off, the buttons work")
        return None

    # Keys are matched in the page the way the module normalises them.
    normalised = {str(k).lower() if len(str(k)) > 1 else str(k): str(v) for k, v in keymap.items()}

    class KeyboardControl(anywidget.AnyWidget):
        _esm = ESM
        keymap = traitlets.Dict().tag(sync=True)
        scope = traitlets.Unicode().tag(sync=True)
        help = traitlets.Unicode().tag(sync=True)
        #: Bumped whenever the shown batch changes; keys carry the value they were pressed under.
        generation = traitlets.Int(0).tag(sync=True)
        #: Keys pressed within this many milliseconds of new tiles appearing are refused (not seen yet).
        settle_ms = traitlets.Int(400).tag(sync=True)

    control = KeyboardControl(keymap=_page_keys(normalised), scope=scope, help=help)
    if on_stale is None:

        def on_stale(action: str) -> None:
            _log.info("dropped key action %r pressed for an earlier batch", action)

    def handle(widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("action"), str):
            return
        started = time.perf_counter()
        try:
            generation = content.get("generation")
            stale = isinstance(generation, int) and generation != widget.generation
            if stale or content.get("fresh") is False:
                on_stale(content["action"])
            else:
                on_action(content["action"])
        finally:
            widget.send({"ack": content.get("seq"), "kernel_ms": 1000 * (time.perf_counter() - started)})

    control.on_msg(handle)
    return control


def _page_keys(keymap: Mapping[str, str]) -> dict[str, str]:
    """Key names as the page sees ``KeyboardEvent.key`` (``"Enter"``, ``"ArrowLeft"``, ``"Backspace"``)."""
    named = {
        "enter": "Enter",
        "backspace": "Backspace",
        "delete": "Delete",
        "escape": "Escape",
        "arrowleft": "ArrowLeft",
        "arrowright": "ArrowRight",
        "arrowup": "ArrowUp",
        "arrowdown": "ArrowDown",
    }
    return {named.get(k, k): v for k, v in keymap.items()}
