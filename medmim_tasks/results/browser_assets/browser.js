// Med-MIM sample browser: filters, search and paging over the data embedded in the page.
// Plain JS, no libraries, no network: everything comes from the JSON in #medmim-data and the
// thumbnail files beside the page.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("medmim-data").textContent);
  const RUNS = DATA.runs, DOCS = DATA.docs, IMAGES = DATA.images, FOLDER = DATA.files_folder;
  const TWO = RUNS.length === 2;
  const FILTERS = ["split", "dataset", "subtype", "kind", "n_images", "outcome", "outcome_b", "compare"];
  const state = { page: 0, pageSize: DATA.page_size, shown: [] };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value; else node.setAttribute(name, value);
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }

  function outcomeOf(doc, run) { const r = doc.runs[run]; return r ? r.outcome : "not in run"; }

  function fillSelect(id, values) {
    const select = $(id);
    select.appendChild(el("option", { value: "", text: "all" }));
    for (const value of values) select.appendChild(el("option", { value: String(value), text: String(value) }));
  }

  function distinct(read) {
    const seen = [...new Set(DOCS.map(read))];
    return seen.sort((a, b) => (typeof a === "number" ? a - b : String(a).localeCompare(String(b))));
  }

  function setUpFilters() {
    fillSelect("f-split", [...new Set(DOCS.map((d) => d.split))]);
    fillSelect("f-dataset", distinct((d) => d.dataset));
    fillSelect("f-subtype", distinct((d) => d.subtype));
    fillSelect("f-kind", distinct((d) => d.kind));
    fillSelect("f-n_images", distinct((d) => d.n_images));
    fillSelect("f-outcome", distinct((d) => outcomeOf(d, 0)));
    if (TWO) {
      fillSelect("f-outcome_b", distinct((d) => outcomeOf(d, 1)));
      fillSelect("f-compare", ["A right, B wrong", "A wrong, B right", "same outcome", "different outcome"]);
    } else {
      for (const id of ["f-outcome_b", "f-compare"]) $(id).parentElement.hidden = true;
    }
    for (const name of FILTERS) $("f-" + name).addEventListener("change", apply);
    $("f-search").addEventListener("input", apply);
    $("prev").addEventListener("click", () => show(state.page - 1));
    $("next").addEventListener("click", () => show(state.page + 1));
  }

  function comparison(doc, wanted) {
    const a = outcomeOf(doc, 0), b = outcomeOf(doc, 1);
    const wrongish = (o) => o === "wrong" || o === "unparsed";
    if (wanted === "A right, B wrong") return a === "right" && wrongish(b);
    if (wanted === "A wrong, B right") return wrongish(a) && b === "right";
    if (wanted === "same outcome") return a === b;
    return a !== b;
  }

  function searchText(doc) {
    if (doc._text === undefined) {
      const parts = [doc.key, doc.source, doc.question, doc.gold, ...doc.options.map((o) => o[1])];
      for (const r of doc.runs) if (r) parts.push(r.reply);
      doc._text = parts.join("\n").toLowerCase();
    }
    return doc._text;
  }

  function matches(doc, wanted, words) {
    if (wanted.split && doc.split !== wanted.split) return false;
    if (wanted.dataset && doc.dataset !== wanted.dataset) return false;
    if (wanted.subtype && doc.subtype !== wanted.subtype) return false;
    if (wanted.kind && doc.kind !== wanted.kind) return false;
    if (wanted.n_images && String(doc.n_images) !== wanted.n_images) return false;
    if (wanted.outcome && outcomeOf(doc, 0) !== wanted.outcome) return false;
    if (TWO && wanted.outcome_b && outcomeOf(doc, 1) !== wanted.outcome_b) return false;
    if (TWO && wanted.compare && !comparison(doc, wanted.compare)) return false;
    const text = words.length ? searchText(doc) : "";
    return words.every((word) => text.includes(word));
  }

  function apply() {
    const wanted = {};
    for (const name of FILTERS) wanted[name] = $("f-" + name).value;
    const words = $("f-search").value.toLowerCase().split(/\s+/).filter(Boolean);
    state.shown = DOCS.filter((doc) => matches(doc, wanted, words));
    const chosen = Object.entries({ ...wanted, search: $("f-search").value }).filter(([, value]) => value);
    history.replaceState(null, "", chosen.length ? "#" + new URLSearchParams(chosen).toString() : location.pathname);
    show(0);
  }

  // Filters from the address (#dataset=ODIR&compare=...), so a view can be bookmarked or shared.
  function readAddress() {
    const given = new URLSearchParams(location.hash.slice(1));
    for (const name of [...FILTERS, "search"]) $("f-" + name).value = "";
    for (const [name, value] of given) {
      const input = $("f-" + name);
      if (input && (input.tagName !== "SELECT" || [...input.options].some((o) => o.value === value))) input.value = value;
    }
  }

  function figure(index, n) {
    const [src, width, height, problem] = IMAGES[index];
    const caption = "Image " + n + (width ? " \u00b7 " + width + "\u00d7" + height : "");
    if (!src) {
      return el("figure", {}, [el("div", { class: "missing", text: problem }), el("figcaption", { text: caption })]);
    }
    const img = el("img", { src: encodeURIComponent(FOLDER) + "/" + src, loading: "lazy", alt: caption, title: "click to enlarge" });
    img.addEventListener("click", () => img.classList.toggle("zoomed"));
    return el("figure", {}, [img, el("figcaption", { text: caption })]);
  }

  function replyBox(doc, run) {
    const r = doc.runs[run];
    const name = (TWO ? (run === 0 ? "A: " : "B: ") : "") + RUNS[run].label;
    if (!r) return el("div", { class: "reply" }, [el("div", { class: "empty", text: name + ": not in this run" })]);
    const head = el("div", {}, [el("b", { text: name + " " }), el("span", { class: "badge " + r.outcome, text: r.outcome })]);
    if (doc.kind === "multiple_choice") head.appendChild(el("span", { text: "  parsed letter: " + (r.parsed || "none") }));
    const scores = Object.entries(r.scores).map(([k, v]) => k + " " + v.toFixed(3)).join(" \u00b7 ");
    return el("div", { class: "reply " + r.outcome }, [
      head, el("pre", { text: r.reply }), scores ? el("div", { class: "scores", text: scores }) : null,
    ]);
  }

  function card(doc) {
    const meta = el("div", { class: "meta" }, [
      el("span", {}, [el("b", { text: doc.key })]), el("span", { text: doc.split }), el("span", { text: doc.dataset }),
      el("span", { text: doc.subtype }), el("span", { text: doc.kind }), el("span", { text: "source " + doc.source }),
    ]);
    const runs = TWO ? 2 : 1;
    const images = el("div", { class: "images" }, doc.images[0].map((index, i) => figure(index, i + 1)));
    const parts = [meta, images];
    if (TWO && doc.images[1].join() !== doc.images[0].join()) {
      parts.push(el("div", { class: "meta", text: "B saw the images at another size:" }));
      parts.push(el("div", { class: "images" }, doc.images[1].map((index, i) => figure(index, i + 1))));
    }
    parts.push(el("div", { class: "question", text: doc.question }));
    if (doc.options.length) {
      parts.push(el("ol", { class: "options" }, doc.options.map(([letter, text]) =>
        el("li", { class: letter === doc.gold_letter ? "gold" : "", text: letter + ": " + text }))));
    }
    parts.push(el("div", { class: "gold-answer", text: "Gold: " + doc.gold }));
    const replies = [];
    for (let run = 0; run < runs; run++) replies.push(replyBox(doc, run));
    parts.push(el("div", { class: "replies" + (TWO ? " two" : "") }, replies));
    return el("article", { class: "doc", "data-key": doc.key }, parts);
  }

  function show(page) {
    const pages = Math.max(1, Math.ceil(state.shown.length / state.pageSize));
    state.page = Math.min(Math.max(0, page), pages - 1);
    const start = state.page * state.pageSize;
    const slice = state.shown.slice(start, start + state.pageSize);
    const list = $("docs");
    list.replaceChildren(...slice.map(card));
    if (!slice.length) list.appendChild(el("p", { class: "empty", text: "No document matches these filters." }));
    $("count").textContent = state.shown.length + " of " + DOCS.length + " documents";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    window.scrollTo(0, 0);
  }

  $("runs").textContent = RUNS.map((r, i) => (TWO ? "ABCDEF"[i] + ": " : "") + r.label + " (" + r.results_file + ")").join("   ");
  setUpFilters();
  readAddress();
  apply();
  window.addEventListener("hashchange", () => { readAddress(); apply(); });  // an address typed or pasted
  window.medmimBrowser = { apply: apply, show: show, state: state };
})();
