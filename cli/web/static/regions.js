// Regions page: pairs of pictures that share a region, both boxes drawn.
"use strict";

(() => {
  const pairsEl = document.getElementById("pairs");
  const minEl = document.getElementById("min-score"), maxEl = document.getElementById("max-score");
  let loaded = null;

  async function load() {
    LA.status("Looking for duplicate regions…");
    try {
      const report = await LA.api(`/api/dupes?regions=1&min_score=${encodeURIComponent(minEl.value)}`);
      const pics = await LA.pictures(report.regions.flatMap(r => [r.a.path, r.b.path]));
      loaded = {min: parseFloat(minEl.value), report, pics};
      render();
    } catch (e) { LA.status(e.message, true); }
  }

  function render() {
    const lo = parseFloat(minEl.value), hi = parseFloat(maxEl.value);
    pairsEl.replaceChildren();
    const shown = loaded.report.regions.filter(r => r.score >= lo && r.score <= hi);
    LA.status(`${shown.length} region pair${shown.length === 1 ? "" : "s"} with a score from ${lo} to ${hi}.`);
    for (const r of shown) {
      const a = loaded.pics.get(r.a.path), b = loaded.pics.get(r.b.path);
      if (!a || !b) continue;
      pairsEl.append(LA.el("article", {class: "pair"},
        LA.el("div", {class: "score", text: r.score.toFixed(3)}),
        LA.el("figure", {class: "card"}, LA.thumb(a, [r.a.box]),
          LA.el("figcaption", {}, LA.el("div", {class: "path", text: r.a.path}),
            LA.el("div", {class: "facts", text: `box ${r.a.box.join(", ")}`}))),
        LA.el("figure", {class: "card"}, LA.thumb(b, [r.b.box]),
          LA.el("figcaption", {}, LA.el("div", {class: "path", text: r.b.path}),
            LA.el("div", {class: "facts", text: `box ${r.b.box.join(", ")}`})))));
    }
  }

  LA.scoreRange(() => (loaded ? loaded.min : null), load, render);
})();
