// Shared helpers of the review pages: the JSON API, picture cards with boxes, messages.
"use strict";

const LA = {
  token: document.querySelector('meta[name="lookalike-token"]').content,
  readOnly: document.querySelector('meta[name="lookalike-read-only"]').content === "yes",

  async api(path, options = {}) {
    const opts = Object.assign({}, options);
    opts.headers = Object.assign({}, options.headers || {});
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    if (opts.method && opts.method !== "GET") opts.headers["X-Lookalike-Token"] = LA.token;
    const r = await fetch(path, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error((body && body.error) || `${r.status} ${r.statusText}`);
    return body;
  },

  // path -> picture facts ({id, path, size, mtime, width, height, format})
  async pictures(paths) {
    const out = new Map();
    const unique = [...new Set(paths)];
    for (let i = 0; i < unique.length; i += 2000) {
      const body = await LA.api("/api/pictures", {method: "POST", json: {paths: unique.slice(i, i + 2000)}});
      for (const p of body.pictures) out.set(p.path, p);
    }
    return out;
  },

  el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c) e.append(c);
    return e;
  },

  fmtBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  },

  fmtDate(seconds) { return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " "); },

  facts(pic) {
    return `${pic.width}×${pic.height} · ${pic.format} · ${LA.fmtBytes(pic.size)} · ${LA.fmtDate(pic.mtime)}`;
  },

  // A thumbnail with boxes drawn at their place ([x, y, w, h] in the picture's pixels).
  thumb(pic, boxes = [], side = 320) {
    const wrap = LA.el("div", {class: "thumb"});
    wrap.style.aspectRatio = `${pic.width} / ${pic.height}`;
    wrap.append(LA.el("img", {src: `/api/thumb/${pic.id}?side=${side}`, loading: "lazy", alt: pic.path}));
    for (const b of boxes) {
      if (!b || (b[0] === 0 && b[1] === 0 && b[2] >= pic.width && b[3] >= pic.height)) continue;
      const d = LA.el("div", {class: "box"});
      d.style.left = `${100 * b[0] / pic.width}%`;
      d.style.top = `${100 * b[1] / pic.height}%`;
      d.style.width = `${100 * b[2] / pic.width}%`;
      d.style.height = `${100 * b[3] / pic.height}%`;
      wrap.append(d);
    }
    return wrap;
  },

  toast(message, bad = false) {
    const t = document.getElementById("toast");
    t.textContent = message;
    t.className = bad ? "show bad" : "show";
    clearTimeout(LA._toastTimer);
    LA._toastTimer = setTimeout(() => { t.className = ""; }, 5000);
  },

  status(message, bad = false) {
    const s = document.getElementById("status");
    s.textContent = message;
    s.classList.toggle("bad", bad);
  },

  // The page's min/max score range, applied as the user types: a minimum below what was loaded
  // loads again (more groups exist there), anything else only filters what is on hand.
  scoreRange(loadedMin, load, render) {
    const minEl = document.getElementById("min-score"), maxEl = document.getElementById("max-score");
    const changed = LA.debounce(() => {
      const m = loadedMin();
      if (m === null || parseFloat(minEl.value) < m) load(); else render();
    }, 250);
    minEl.addEventListener("input", changed);
    maxEl.addEventListener("input", changed);
    load();
  },

  debounce(fn, ms) {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  },
};
