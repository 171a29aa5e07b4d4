// The pipeline board: drag a card to another column to move the deal (SortableJS + htmx).
// The server decides: a move it refuses (missing evidence, or someone moved the deal first)
// snaps the card back and shows why. Without JavaScript each card links to its deal page,
// which has the same move as a plain form.
(function () {
  "use strict";

  let pending = null; // a drop into Funded or Lost, waiting for the details in the modal
  let modal = null;

  function feedback(html) {
    const box = document.getElementById("board-feedback");
    if (box) box.innerHTML = html;
  }

  function snapBack(drop) {
    drop.card.classList.remove("is-moving");
    drop.from.insertBefore(drop.card, drop.from.children[drop.index] || null);
  }

  function post(drop) {
    drop.card.classList.add("is-moving");
    drop.card.addEventListener("htmx:afterRequest", (event) => {
      if (!event.detail.successful) snapBack(drop);
    }, { once: true });
    htmx.ajax("POST", drop.card.dataset.moveUrl, {
      source: drop.card,
      target: "#board-feedback",
      swap: "innerHTML",
      values: { seen_stage: drop.card.dataset.stage, to_stage: drop.to },
    });
  }

  function askDetails(drop) {
    // Funded needs the amount and start date, Lost a reason: the server's move form asks. It is
    // told the stage the card showed, so a board older than someone else's move hears who moved
    // the deal (409) instead of a form for a stage the user never saw.
    pending = drop;
    const url = drop.card.dataset.moveUrl + "?to=" + encodeURIComponent(drop.to) +
      "&seen=" + encodeURIComponent(drop.card.dataset.stage);
    htmx.ajax("GET", url, { target: "#move-modal-body", swap: "innerHTML" }).then(() => modal.show());
  }

  function onAdd(event) {
    const drop = { card: event.item, from: event.from, index: event.oldIndex, to: event.to.dataset.stage };
    feedback("");
    if ("needsDetails" in event.to.dataset) {
      askDetails(drop);
    } else {
      post(drop);
    }
  }

  function init(root) {
    root.querySelectorAll("[data-stage-list]").forEach((list) => {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: "deals",
        sort: false,
        animation: 150,
        draggable: ".deal-card",
        ghostClass: "deal-card-ghost",
        onAdd: onAdd,
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const element = document.getElementById("move-modal");
    if (!element || typeof Sortable === "undefined") return;
    modal = bootstrap.Modal.getOrCreateInstance(element);
    element.addEventListener("hidden.bs.modal", () => {
      if (pending) snapBack(pending); // cancelled: the deal did not move
      pending = null;
    });
    document.body.addEventListener("deal-moved", () => {
      // The columns redraw themselves on this event (hx-trigger); close the dialog if open.
      if (pending) {
        pending = null;
        modal.hide();
      }
    });
    htmx.onLoad(init);
  });
})();
