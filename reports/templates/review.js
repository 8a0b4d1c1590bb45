// review.html's behaviour, inlined into the page: one person pair a screen, keyboard decisions,
// a decisions CSV saved from the browser. Nothing is fetched or sent anywhere.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("queue").textContent);
  const pairs = data.pairs, columns = data.columns;
  const storeKey = "hnf-match-review:" + data.run_id;
  const WORDS = { m: "match", n: "non-match", s: "skip" };
  let decisions = {}, history = [], current = 0;
  try {
    const saved = JSON.parse(window.localStorage.getItem(storeKey) || "null");
    if (saved) { decisions = saved.decisions || {}; history = saved.history || []; current = saved.current || 0; }
  } catch (e) { /* no storage (private window): progress lives as long as the page */ }

  function keep() {
    try { window.localStorage.setItem(storeKey, JSON.stringify({ decisions, history, current })); } catch (e) { }
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children || []) node.appendChild(c);
    return node;
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The weights as a waterfall: the prior, each comparison's weight added in turn, the total.
  function waterfall(pair) {
    const steps = [{ label: "prior", weight: pair.prior, kind: "base" }]
      .concat(pair.weights.map(w => ({ label: w.name + " (" + w.level + ")", weight: w.weight,
                                       kind: w.weight >= 0 ? "pos" : "neg" })));
    let run = 0;
    const bars = steps.map(s => { const from = run; run += s.weight; return { ...s, from, to: run }; });
    bars.push({ label: "match weight", weight: pair.total, kind: "total", from: 0, to: pair.total });
    const ends = bars.flatMap(b => [b.from, b.to]).concat([0]);
    const lo = Math.min(...ends), hi = Math.max(...ends);
    const rowH = 22, labelW = 260, plotW = 520, width = labelW + plotW + 70;
    const x = v => labelW + (hi === lo ? 0 : (v - lo) / (hi - lo) * plotW);
    const root = svg("svg", { class: "waterfall", viewBox: `0 0 ${width} ${bars.length * rowH + 10}`,
                              role: "img", "aria-label": "Match weight built up comparison by comparison" });
    root.appendChild(svg("line", { x1: x(0), x2: x(0), y1: 0, y2: bars.length * rowH, stroke: "#8c959f" }));
    bars.forEach((b, i) => {
      const y = i * rowH + 4;
      root.appendChild(svg("text", { x: labelW - 8, y: y + 13, "text-anchor": "end" }, b.label));
      const left = Math.min(x(b.from), x(b.to)), w = Math.max(Math.abs(x(b.to) - x(b.from)), 1);
      root.appendChild(svg("rect", { x: left, y, width: w, height: rowH - 6, class: b.kind }));
      root.appendChild(svg("text", { x: left + w + 4, y: y + 13 }, (b.weight > 0 && b.kind !== "total" ? "+" : "") + b.weight.toFixed(2)));
    });
    return root;
  }

  function side(value, recorded) {
    const cell = el("td", {}, [document.createTextNode(value || "")]);
    if (recorded && recorded !== value) cell.appendChild(el("span", { class: "recorded", text: "recorded: " + recorded }));
    return cell;
  }

  function show() {
    const main = document.getElementById("pair");
    const done = Object.values(decisions).filter(d => d !== "skip").length;
    document.getElementById("progress").textContent = pairs.length
      ? `Pair ${current + 1} of ${pairs.length} · ${done} decided` : "";
    if (!pairs.length) return;
    const pair = pairs[current];
    main.replaceChildren();
    const decided = decisions[current];
    const facts = el("p", { class: "facts" }, [
      el("span", {}, [document.createTextNode("probability "), el("b", { text: (pair.probability * 100).toFixed(1) + "%" })]),
      el("span", {}, [document.createTextNode("match weight "), el("b", { text: pair.total.toFixed(2) })]),
      el("span", { text: pair.record_pairs + " record pair(s) between these two persons" }),
    ]);
    if (pair.eligibility_if_match) facts.appendChild(el("span", { class: "flag", text: "a match would change a family's eligibility" }));
    facts.appendChild(el("span", { id: "decision", class: "decided " + (decided || ""),
                                   text: decided ? "decided: " + decided : "not decided" }));
    main.appendChild(facts);
    const head = el("thead", {}, [el("tr", {}, [
      el("th", { text: "" }),
      el("th", { text: `${pair.person_l} (${pair.family_l}) · ${pair.agencies_l}` }),
      el("th", { text: "" }),
      el("th", { text: `${pair.person_r} (${pair.family_r}) · ${pair.agencies_r}` }),
    ])]);
    const body = el("tbody");
    body.appendChild(el("tr", {}, [el("th", { text: "Record" }),
      el("td", { text: pair.keys.source_l + " " + pair.keys.record_id_l }), el("td"),
      el("td", { text: pair.keys.source_r + " " + pair.keys.record_id_r })]));
    for (const f of pair.fields) {
      const mark = f.agreement === "agree" ? "=" : f.agreement === "differ" ? "≠" : "";
      body.appendChild(el("tr", { class: f.agreement, "data-field": f.name }, [
        el("th", { text: f.title }), side(f.l, f.l_recorded),
        el("td", { class: "mark " + f.agreement, text: mark }), side(f.r, f.r_recorded)]));
    }
    main.appendChild(el("table", { id: "fields" }, [head, body]));
    main.appendChild(el("h2", { text: "How the weight adds up" }));
    main.appendChild(waterfall(pair));
  }

  function nextUndecided(from) {
    for (let k = 1; k <= pairs.length; k++) {
      const i = (from + k) % pairs.length;
      if (!(i in decisions)) return i;
    }
    return Math.min(from + 1, pairs.length - 1);
  }

  function decide(word) {
    decisions[current] = word;
    history.push(current);
    current = nextUndecided(current);
    keep(); show();
  }

  function undo() {
    if (!history.length) return;
    const last = history.pop();
    delete decisions[last];
    current = last;
    keep(); show();
  }

  function quote(v) {
    const s = String(v);
    return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  // The decisions file the next run reads: one row per pair decided a match or a non-match.
  function csv() {
    const lines = [columns.join(",")];
    Object.keys(decisions).map(Number).sort((a, b) => a - b).forEach(i => {
      const word = decisions[i];
      if (word === "skip") return;
      const k = pairs[i].keys;
      lines.push([k.source_l, k.record_id_l, k.source_r, k.record_id_r, word].map(quote).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }

  function save() {
    const link = document.getElementById("download");
    link.href = URL.createObjectURL(new Blob([csv()], { type: "text/csv" }));
    link.click();
  }

  document.getElementById("save").addEventListener("click", save);
  document.addEventListener("keydown", ev => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !pairs.length) return;
    const key = ev.key.toLowerCase();
    if (key in WORDS) decide(WORDS[key]);
    else if (key === "u") undo();
    else if (ev.key === "ArrowRight") { current = Math.min(current + 1, pairs.length - 1); keep(); show(); }
    else if (ev.key === "ArrowLeft") { current = Math.max(current - 1, 0); keep(); show(); }
    else return;
    ev.preventDefault();
  });
  window.hnfReview = { csv };
  show();
}());
