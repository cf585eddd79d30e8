"use strict";
// DOM helpers shared by the pages. Text always goes in as text nodes,
// never as HTML, so nothing the mesh reports (a NACK message, a policy
// name) can inject markup into the page.
(function (E) {
  // el builds an element: attrs are attributes ("class" included), and
  // children are nodes or values shown as text; null and false are left out.
  E.el = function (tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      n.append(c instanceof Node ? c : String(c));
    }
    return n;
  };

  E.svg = function (tag, attrs, ...children) {
    const n = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      n.append(c instanceof Node ? c : String(c));
    }
    return n;
  };

  // table builds a table of header names and rows of cells.
  E.table = function (cls, headers, rows, empty) {
    if (rows.length === 0) return E.el("p", { class: "muted empty" }, empty);
    return E.el(
      "table",
      { class: cls },
      E.el("thead", {}, E.el("tr", {}, headers.map((h) => E.el("th", {}, h)))),
      E.el("tbody", {}, rows.map((r) => (r instanceof Node ? r : E.el("tr", {}, r.map((c) => E.el("td", {}, c))))))
    );
  };

  E.section = (title, ...body) => E.el("section", {}, E.el("h2", {}, title), body);

  // badge shows a state (SYNCED, NACKED, enforce, dry-run…) in its colour.
  E.badge = (state) => E.el("span", { class: "badge", "data-state": String(state).toLowerCase() }, state);

  // shortType is an xDS type URL's message name: Cluster, Listener…
  E.shortType = (url) => String(url).split(".").pop();

  // duration says a span of seconds the way a person reads it.
  E.duration = function (s) {
    s = Math.abs(Math.round(s));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? " " + (s % 60) + "s" : "");
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  };

  // ago says how long before now an RFC 3339 time was.
  E.ago = function (t) {
    if (!t) return "";
    const s = (Date.now() - Date.parse(t)) / 1000;
    return s >= 0 ? E.duration(s) + " ago" : "in " + E.duration(s);
  };

  E.time = (t) => (t ? E.el("time", { datetime: t, title: t }, E.ago(t)) : "");

  E.errorBox = (e) => E.el("p", { class: "error", role: "alert" }, e && e.message ? e.message : String(e));

  E.link = (hash, text) => E.el("a", { href: hash }, text);
})(window.Embassy);
