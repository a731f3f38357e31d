// Search page: drop, pick or name a picture; hits as thumbnails with score, match badge and box.
"use strict";

(() => {
  const drop = document.getElementById("drop");
  const file = document.getElementById("file");
  const hitsEl = document.getElementById("hits");

  async function show(result) {
    hitsEl.replaceChildren();
    if (!result.hits.length) { LA.status("No hits: the index is empty."); return; }
    const pics = await LA.pictures(result.hits.map(h => h.path));
    const matches = result.hits.filter(h => h.match).length;
    LA.status(`${result.hits.length} hits for ${result.query}, ${matches} match${matches === 1 ? "" : "es"}.`);
    result.hits.forEach((h, i) => {
      const pic = pics.get(h.path);
      if (!pic) return;
      const card = LA.el("figure", {class: "card hit" + (h.match ? " match" : ""), "data-path": h.path},
        LA.thumb(pic, [h.box]),
        LA.el("figcaption", {},
          LA.el("div", {class: "row"},
            LA.el("span", {class: "rank", text: `${i + 1}.`}),
            LA.el("span", {class: "score", text: h.score.toFixed(3)}),
            h.match ? LA.el("span", {class: "badge match", text: "match"}) : LA.el("span", {class: "badge", text: "no match"})),
          LA.el("div", {class: "path", text: h.path, title: h.path}),
          LA.el("div", {class: "facts", text: `box ${h.box.join(", ")} · ${LA.facts(pic)}`})));
      hitsEl.append(card);
    });
  }

  async function searchFile(f) {
    const preview = document.getElementById("query-preview");
    document.getElementById("query-img").src = URL.createObjectURL(f);
    document.getElementById("query-name").textContent = f.name;
    preview.hidden = false;
    LA.status(`Searching for ${f.name}…`);
    const form = new FormData();
    form.append("file", f, f.name);
    try { await show(await LA.api("/api/search", {method: "POST", body: form})); }
    catch (e) { hitsEl.replaceChildren(); LA.status(e.message, true); }
  }

  file.addEventListener("change", () => { if (file.files[0]) searchFile(file.files[0]); });
  drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", e => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) searchFile(e.dataTransfer.files[0]);
  });
  document.getElementById("by-path").addEventListener("submit", async e => {
    e.preventDefault();
    const path = document.getElementById("path").value.trim();
    if (!path) return;
    document.getElementById("query-preview").hidden = true;
    LA.status(`Searching for ${path}…`);
    try { await show(await LA.api("/api/search", {method: "POST", json: {path}})); }
    catch (err) { hitsEl.replaceChildren(); LA.status(err.message, true); }
  });
})();
