// Side-by-side viewer: two pictures of a group, zoom and pan kept in step, swap, slider, difference.
"use strict";

const LAViewer = (() => {
  const dlg = document.getElementById("viewer");
  const stage = document.getElementById("stage");
  const imgs = [document.getElementById("img-a"), document.getElementById("img-b")];
  const slider = document.getElementById("slider");
  const view = {scale: 1, tx: 0, ty: 0};
  let pics = [], pair = [0, 1];

  function apply() {
    const t = `translate(${view.tx}px, ${view.ty}px) scale(${view.scale})`;
    for (const img of imgs) img.style.transform = t;
  }
  function reset() { view.scale = 1; view.tx = 0; view.ty = 0; apply(); }

  function facts(el, pic, label) {
    el.replaceChildren(LA.el("strong", {text: `${label}: `}), LA.el("span", {class: "path", text: pic.path}),
                       LA.el("div", {class: "facts", text: LA.facts(pic)}));
  }

  function show() {
    const [a, b] = [pics[pair[0]], pics[pair[1]]];
    imgs[0].src = `/api/thumb/${a.id}?side=1600`;
    imgs[1].src = `/api/thumb/${b.id}?side=1600`;
    imgs[0].alt = a.path; imgs[1].alt = b.path;
    facts(document.getElementById("facts-a"), a, "A");
    facts(document.getElementById("facts-b"), b, "B");
    const strip = document.getElementById("strip");
    strip.replaceChildren();
    pics.forEach((p, i) => {
      const role = i === pair[0] ? "A" : i === pair[1] ? "B" : "";
      strip.append(LA.el("div", {class: "strip-item" + (role ? " on" : "")},
        LA.thumb(p, [], 320),
        LA.el("div", {class: "row"},
          LA.el("button", {text: "A", onclick: () => { if (i !== pair[1]) { pair[0] = i; show(); } }}),
          LA.el("button", {text: "B", onclick: () => { if (i !== pair[0]) { pair[1] = i; show(); } }}),
          LA.el("span", {text: role}))));
    });
  }

  function setMode(mode) {
    stage.className = `stage ${mode}`;
    slider.hidden = mode !== "slider";
    clip();
  }
  function clip() {
    const pane = document.getElementById("pane-b");
    pane.style.clipPath = stage.classList.contains("slider") ? `inset(0 0 0 ${slider.value}%)` : "";
  }

  for (const pane of stage.querySelectorAll(".pane")) {
    pane.addEventListener("wheel", e => {
      e.preventDefault();
      const r = pane.getBoundingClientRect();
      const cx = e.clientX - r.left, cy = e.clientY - r.top;
      const f = Math.exp(-e.deltaY * 0.0015);
      const s = Math.min(40, Math.max(1, view.scale * f));
      const k = s / view.scale;
      view.tx = cx - (cx - view.tx) * k;
      view.ty = cy - (cy - view.ty) * k;
      view.scale = s;
      apply();
    }, {passive: false});
    pane.addEventListener("pointerdown", e => {
      pane.setPointerCapture(e.pointerId);
      const start = {x: e.clientX, y: e.clientY, tx: view.tx, ty: view.ty};
      const move = m => { view.tx = start.tx + m.clientX - start.x; view.ty = start.ty + m.clientY - start.y; apply(); };
      const up = () => { pane.removeEventListener("pointermove", move); pane.removeEventListener("pointerup", up); };
      pane.addEventListener("pointermove", move);
      pane.addEventListener("pointerup", up);
    });
  }
  for (const r of dlg.querySelectorAll('input[name="mode"]')) r.addEventListener("change", () => setMode(r.value));
  slider.addEventListener("input", clip);
  document.getElementById("swap").addEventListener("click", () => { pair.reverse(); show(); });
  document.getElementById("zoom-reset").addEventListener("click", reset);
  document.getElementById("viewer-close").addEventListener("click", () => dlg.close());

  return {
    open(groupPics, title) {
      pics = groupPics; pair = [0, Math.min(1, groupPics.length - 1)];
      document.getElementById("viewer-title").textContent = title;
      dlg.querySelector('input[value="side"]').checked = true;
      setMode("side");
      reset();
      show();
      dlg.showModal();
    },
  };
})();
