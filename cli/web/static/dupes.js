// Duplicates page: groups largest first, keep/trash per picture, preselection, plan, apply and undo.
"use strict";

(() => {
  const groupsEl = document.getElementById("groups");
  const minEl = document.getElementById("min-score"), maxEl = document.getElementById("max-score");
  const dlg = document.getElementById("plan-dialog");
  let loaded = null;          // {min, groups: [{paths, score}], pics}
  const marks = new Map();    // path -> "trash" (absent: keep)
  let savedPlan = null;

  async function load() {
    LA.status("Looking for duplicates…");
    try {
      const report = await LA.api(`/api/dupes?min_score=${encodeURIComponent(minEl.value)}`);
      const pics = await LA.pictures(report.groups.flat());
      const groups = report.groups.map((paths, i) => ({paths, score: report.scores[i]}));
      groups.sort((a, b) => b.paths.length - a.paths.length || a.score - b.score);
      loaded = {min: parseFloat(minEl.value), groups, pics};
      render();
    } catch (e) { groupsEl.replaceChildren(); LA.status(e.message, true); }
  }

  function shown() {
    const lo = parseFloat(minEl.value), hi = parseFloat(maxEl.value);
    return loaded.groups.filter(g => g.score >= lo && g.score <= hi);
  }

  function toggle(group, path, card) {
    if (marks.get(path) === "trash") marks.delete(path);
    else {
      const kept = group.paths.filter(p => p !== path && marks.get(p) !== "trash");
      if (!kept.length) { LA.toast("Keep at least one picture of each group.", true); return; }
      marks.set(path, "trash");
    }
    paintCard(card, path);
  }

  function paintCard(card, path) {
    const trash = marks.get(path) === "trash";
    card.classList.toggle("trashed", trash);
    const b = card.querySelector("button.mark");
    b.textContent = trash ? "trash" : "keep";
    b.setAttribute("aria-pressed", trash ? "true" : "false");
  }

  let renderRun = 0;

  function groupElement(g, gi) {
    const pics = g.paths.map(p => loaded.pics.get(p)).filter(Boolean);
    const art = LA.el("article", {class: "group", "data-score": g.score},
      LA.el("header", {},
        LA.el("span", {text: `Group ${gi + 1} · ${pics.length} pictures · score ${g.score.toFixed(3)}`}),
        LA.el("button", {class: "compare", text: "Compare", onclick: () => LAViewer.open(pics, `Group ${gi + 1}`)})));
    const row = LA.el("div", {class: "members"});
    for (const pic of pics) {
      const card = LA.el("figure", {class: "card", "data-path": pic.path},
        LA.thumb(pic),
        LA.el("figcaption", {},
          LA.el("div", {class: "path", text: pic.path, title: pic.path}),
          LA.el("div", {class: "facts", text: LA.facts(pic)}),
          LA.el("button", {class: "mark", text: "keep", "aria-pressed": "false"})));
      card.querySelector("button.mark").addEventListener("click", () => toggle(g, pic.path, card));
      paintCard(card, pic.path);
      row.append(card);
    }
    art.append(row);
    return art;
  }

  // The first groups go on the page at once, the rest in chunks between frames: a large
  // collection shows its top groups without waiting for the thousandth.
  function render() {
    const groups = shown();
    const pictures = groups.reduce((n, g) => n + g.paths.length, 0);
    LA.status(`${groups.length} group${groups.length === 1 ? "" : "s"} (${pictures} pictures) with a score from ${minEl.value} to ${maxEl.value}.`);
    const run = ++renderRun;
    groupsEl.replaceChildren();
    groupsEl.dataset.complete = "no";
    let next = 0;
    const chunk = size => {
      if (run !== renderRun) return;  // a newer render took over
      const frag = document.createDocumentFragment();
      for (const end = Math.min(groups.length, next + size); next < end; next++) frag.append(groupElement(groups[next], next));
      groupsEl.append(frag);
      if (size === 40) performance.mark("lookalike:first-groups");
      if (next < groups.length) setTimeout(() => chunk(200), 0);
      else { groupsEl.dataset.complete = "yes"; performance.mark("lookalike:all-groups"); }
    };
    chunk(40);
  }

  async function preselect(rule) {
    marks.clear();
    if (rule) {
      const plan = await LA.api("/api/preselect", {method: "POST",
        json: {rule, groups: shown().map(g => g.paths)}});
      for (const g of plan.groups) for (const p of g.trash) marks.set(p, "trash");
    }
    render();
    LA.toast(rule ? `Preselected: keep the ${rule.replace("-", " ")} of each group.` : "Every picture kept.");
  }

  function currentPlan() {
    return shown().map(g => ({keep: g.paths.filter(p => marks.get(p) !== "trash"),
                              trash: g.paths.filter(p => marks.get(p) === "trash")}))
                  .filter(g => g.trash.length);
  }

  function overview() {
    const plan = currentPlan();
    const trash = plan.flatMap(g => g.trash);
    const bytes = trash.reduce((n, p) => n + ((loaded.pics.get(p) || {}).size || 0), 0);
    document.getElementById("plan-summary").textContent =
      `${trash.length} picture${trash.length === 1 ? "" : "s"} to trash in ${plan.length} group${plan.length === 1 ? "" : "s"} (${LA.fmtBytes(bytes)}); every group keeps at least one.`;
    const list = document.getElementById("plan-list");
    list.replaceChildren(...trash.slice(0, 300).map(p => LA.el("li", {text: p})));
    if (trash.length > 300) list.append(LA.el("li", {text: `… and ${trash.length - 300} more`}));
    document.getElementById("plan-result").textContent = "";
    document.getElementById("save-plan").disabled = LA.readOnly || !trash.length;
    document.getElementById("apply-plan").disabled = true;
    document.getElementById("undo-plan").disabled = true;
    savedPlan = null;
    dlg.showModal();
  }

  function result(text, bad = false) {
    const r = document.getElementById("plan-result");
    r.textContent = text;
    r.classList.toggle("bad", bad);
  }

  document.getElementById("save-plan").addEventListener("click", async () => {
    try {
      const saved = await LA.api("/api/plan", {method: "POST", json: {groups: currentPlan()}});
      savedPlan = saved.plan;
      result(`Saved ${saved.path}. Apply it here, or later with: lookalike apply ${saved.path}`);
      document.getElementById("apply-plan").disabled = false;
    } catch (e) { result(e.message, true); }
  });
  document.getElementById("apply-plan").addEventListener("click", async () => {
    try {
      const r = await LA.api("/api/apply", {method: "POST", json: {plan: savedPlan}});
      result(`Moved ${r.moved.length} file${r.moved.length === 1 ? "" : "s"} to ${r.trash_dir}` +
             (r.skipped.length ? `; skipped ${r.skipped.map(s => `${s.path} (${s.reason})`).join(", ")}` : "."));
      document.getElementById("apply-plan").disabled = true;
      document.getElementById("undo-plan").disabled = false;
      marks.clear();
      await load();
    } catch (e) { result(e.message, true); }
  });
  document.getElementById("undo-plan").addEventListener("click", async () => {
    try {
      const r = await LA.api("/api/apply", {method: "POST", json: {plan: savedPlan, undo: true}});
      result(`Put back ${r.moved.length} file${r.moved.length === 1 ? "" : "s"}.`);
      document.getElementById("undo-plan").disabled = true;
      await load();
    } catch (e) { result(e.message, true); }
  });
  document.getElementById("close-plan").addEventListener("click", () => dlg.close());
  document.getElementById("overview").addEventListener("click", overview);
  for (const b of document.querySelectorAll("button[data-rule]")) {
    b.addEventListener("click", () => preselect(b.dataset.rule).catch(e => LA.toast(e.message, true)));
  }
  LA.scoreRange(() => (loaded ? loaded.min : null), load, render);
})();
