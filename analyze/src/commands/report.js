// hltpy report: pan and zoom of the drawing, the node table's filter,
// and a click on a drawn node finding it in the table. Plain JS, inline.
(function () {
  "use strict";
  const view = document.getElementById("graph-view");
  const svg = view && view.querySelector("svg");
  if (svg) {
    // dot writes a size in points; the view box alone lets it fill the pane.
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    const whole = svg.viewBox.baseVal;
    let box = { x: whole.x, y: whole.y, w: whole.width, h: whole.height };
    const initial = Object.assign({}, box);
    const show = () => svg.setAttribute("viewBox", `${box.x} ${box.y} ${box.w} ${box.h}`);
    const zoom = (factor, cx, cy) => {
      // Keep the point under the cursor (cx, cy in 0..1 of the pane) in place.
      const nw = Math.min(Math.max(box.w * factor, initial.w / 200), initial.w * 20);
      const nh = nw * box.h / box.w;
      box = { x: box.x + (box.w - nw) * cx, y: box.y + (box.h - nh) * cy, w: nw, h: nh };
      show();
    };
    view.addEventListener("wheel", (event) => {
      event.preventDefault();
      const pane = view.getBoundingClientRect();
      zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, (event.clientX - pane.left) / pane.width,
           (event.clientY - pane.top) / pane.height);
    }, { passive: false });
    let drag = null;
    view.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, box: Object.assign({}, box), moved: false };
      view.classList.add("dragging");
    });
    window.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const pane = view.getBoundingClientRect();
      // The drawing keeps its aspect ratio: one scale for both axes.
      const scale = Math.max(box.w / pane.width, box.h / pane.height);
      const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      box.x = drag.box.x - dx * scale;
      box.y = drag.box.y - dy * scale;
      show();
    });
    window.addEventListener("pointerup", () => {
      if (drag) view.classList.remove("dragging");
      setTimeout(() => { drag = null; }, 0);
    });
    document.getElementById("zoom-in").addEventListener("click", () => zoom(1 / 1.4, 0.5, 0.5));
    document.getElementById("zoom-out").addEventListener("click", () => zoom(1.4, 0.5, 0.5));
    document.getElementById("zoom-fit").addEventListener("click", () => { box = Object.assign({}, initial); show(); });
    svg.querySelectorAll("g.node").forEach((node) => {
      node.addEventListener("click", () => {
        if (drag && drag.moved) return;
        const title = node.querySelector("title");
        const id = title && /^n(\d+)$/.exec(title.textContent.trim());
        if (id) findNode(id[1]);
      });
    });
  }

  const search = document.getElementById("node-search");
  const rows = Array.from(document.querySelectorAll("#node-table tbody tr"));
  const count = document.getElementById("node-count");
  const texts = rows.map((row) => row.textContent.toLowerCase());
  const filter = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    rows.forEach((row, i) => {
      const match = words.every((word) => texts[i].includes(word));
      row.hidden = !match;
      if (match) shown += 1;
    });
    count.textContent = `${shown} shown`;
  };
  if (search) search.addEventListener("input", filter);

  function findNode(id) {
    const row = document.getElementById(`node-${id}`);
    if (!row) {
      count.textContent = `node ${id} is past the first ${rows.length}`;
      return;
    }
    search.value = "";
    filter();
    rows.forEach((r) => r.classList.remove("found"));
    row.classList.add("found");
    row.scrollIntoView({ block: "center" });
  }
  document.body.dataset.ready = "yes";
})();
