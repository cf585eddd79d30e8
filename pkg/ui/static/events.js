"use strict";
// Events: the control plane's recent events, newest first, with live
// ones added as the stream delivers them.
(function (E) {
  const kept = 200; // rows on the page

  // proxyRef links a NACK's node id to its proxy page; other kinds (a
  // rotation's workload) name something else.
  function proxyRef(e) {
    return e.kind === "nack" ? E.link("#/proxies/" + encodeURIComponent(e.proxy), e.proxy) : e.proxy;
  }

  function pushed(e) {
    const n = e.proxies || 0;
    return "to " + n + (n === 1 ? " proxy" : " proxies") + " in " + ((e.durationSeconds || 0) * 1000).toFixed(1) + " ms";
  }

  function row(e) {
    return E.el(
      "tr",
      { "data-seq": e.seq, "data-kind": e.kind, "data-revision": e.revision || "" },
      E.el("td", {}, e.seq),
      E.el("td", {}, E.time(e.time)),
      E.el("td", {}, E.badge(e.kind)),
      E.el("td", {}, e.revision || ""),
      E.el(
        "td",
        {},
        e.proxy ? E.el("div", {}, proxyRef(e), e.type ? " " + E.shortType(e.type) : "") : null,
        (e.resources || []).length ? E.el("div", {}, e.resources.join(", ")) : null,
        e.message ? E.el("div", { class: e.kind === "nack" || e.kind === "refused" ? "nack" : "muted" }, e.message) : null,
        e.kind === "push" ? E.el("div", { class: "muted" }, pushed(e)) : null
      )
    );
  }

  async function render() {
    const r = await E.get("/v1/events?limit=" + kept);
    const body = E.el("tbody", {});
    const seen = new Set();
    const add = (e) => {
      if (seen.has(e.seq)) return;
      seen.add(e.seq);
      body.prepend(row(e));
      while (body.children.length > kept) body.lastChild.remove();
    };
    (r.events || []).forEach(add);
    const table = E.el("table", { class: "events" }, E.el("thead", {}, E.el("tr", {}, ["#", "When", "Kind", "Revision", "What"].map((h) => E.el("th", {}, h)))), body);
    const page = E.el("div", {}, E.el("h1", {}, "Events"), E.el("p", { class: "summary" }, "Live: new events appear at the top as the control plane publishes them."), table);
    page.onLiveEvent = add;
    return page;
  }

  // The page keeps itself current from the stream; it is never redrawn.
  E.pages.events = { title: "Events", refreshOn: [], every: 0, live: true, render };
})(window.Embassy);
