"use strict";
// Proxies: every connected proxy's sync state per xDS type with its last
// NACK, and, for one proxy, what it holds against what it was sent.
(function (E) {
  const maxPages = 20; // of up to 1000 proxies each (apiwire.MaxProxiesLimit)

  async function allProxies() {
    let out = [];
    let cont = "";
    for (let i = 0; i < maxPages; i++) {
      const r = await E.get("/v1/proxies" + (cont ? "?continue=" + encodeURIComponent(cont) : ""));
      out = out.concat(r.proxies || []);
      if (!r.continue) return out;
      cont = r.continue;
    }
    return out;
  }

  // typeCells shows the types the proxy was sent something of: a flavour
  // never asks for some types, and NOT_SENT for them says nothing.
  function typeCells(p) {
    const urls = Object.keys(p.types || {}).sort();
    const sent = urls.filter((u) => p.types[u].syncState !== "NOT_SENT" || p.types[u].lastNack);
    if (sent.length === 0) return E.el("span", { class: "muted" }, "nothing sent yet");
    return E.el(
      "ul",
      { class: "types" },
      sent.map((u) => {
        const ts = p.types[u];
        return E.el(
          "li",
          {},
          E.el("span", { class: "type" }, E.shortType(u)),
          " ",
          E.badge(ts.syncState),
          ts.nackCount ? E.el("span", { class: "nacks" }, " " + ts.nackCount + " NACK" + (ts.nackCount > 1 ? "s" : "")) : null,
          ts.lastNack ? E.el("div", { class: "nack", "data-proxy": p.id }, "v" + ts.lastNack.version + ": " + ts.lastNack.message) : null
        );
      })
    );
  }

  async function list() {
    const proxies = await allProxies();
    proxies.sort((a, b) => (a.id + a.flavour).localeCompare(b.id + b.flavour));
    const rows = proxies.map((p) =>
      E.el(
        "tr",
        { "data-proxy": p.id, "data-state": (p.syncState || "").toLowerCase() },
        E.el("td", {}, E.link("#/proxies/" + encodeURIComponent(p.id), p.id)),
        E.el("td", {}, p.flavour, E.el("div", { class: "muted" }, p.xds)),
        E.el("td", { class: "id" }, p.identity || E.el("span", { class: "muted" }, "plaintext")),
        E.el("td", {}, E.time(p.connectedSince)),
        E.el("td", {}, E.badge(p.syncState || "NOT_SENT")),
        E.el("td", {}, typeCells(p))
      )
    );
    const nacked = proxies.filter((p) => p.syncState === "NACKED").length;
    return E.el(
      "div",
      {},
      E.el("h1", {}, "Proxies"),
      E.el("p", { class: "summary" }, proxies.length + " connected, " + nacked + " with a rejected (NACKed) version"),
      E.table("proxies", ["Proxy", "Flavour", "Identity", "Connected", "State", "Types (sent)"], rows, "No proxy is connected.")
    );
  }

  function diffList(title, names, cls) {
    if (!names || names.length === 0) return null;
    return E.el("div", { class: "diff " + cls }, E.el("strong", {}, title + " (" + names.length + ")"), E.el("ul", {}, names.map((n) => E.el("li", {}, n))));
  }

  async function detail(id) {
    const enc = encodeURIComponent(id);
    // A node id may have several streams (an agent's beside its app's):
    // each type's state is the stream's that was sent that type.
    const [all, cfg] = await Promise.all([allProxies(), E.getOr404("/v1/proxies/" + enc + "/config")]);
    const streams = all.filter((p) => p.id === id);
    const head = [E.el("p", {}, E.link("#/proxies", "← all proxies")), E.el("h1", {}, "Proxy ", E.el("code", {}, id))];
    if (streams.length === 0 || !cfg) return E.el("div", {}, head, E.el("p", { class: "error" }, "Proxy " + id + " is not connected."));
    const typeStatus = (u) => {
      const has = streams.map((p) => (p.types || {})[u]).filter(Boolean);
      return has.find((ts) => ts.syncState !== "NOT_SENT") || has[0] || {};
    };
    const urls = Object.keys(cfg.diff || {}).sort();
    const rows = urls.map((u) => {
      const d = cfg.diff[u];
      const ts = typeStatus(u);
      const same = !d.added.length && !d.removed.length && !d.changed.length;
      return E.el(
        "tr",
        { "data-type": E.shortType(u) },
        E.el("td", {}, E.shortType(u)),
        E.el("td", {}, E.badge(ts.syncState || "NOT_SENT")),
        E.el("td", {}, E.el("code", {}, d.version || "—")),
        E.el("td", {}, E.el("code", {}, d.ackedVersion || "—")),
        E.el(
          "td",
          {},
          same ? E.el("span", { class: "muted" }, "holds what it was sent") : null,
          diffList("not yet held", d.added, "added"),
          diffList("to be removed", d.removed, "removed"),
          diffList("changed", d.changed, "changed"),
          ts.lastNack ? E.el("div", { class: "nack" }, "rejected v" + ts.lastNack.version + " " + E.ago(ts.lastNack.time) + ": " + ts.lastNack.message) : null
        )
      );
    });
    return E.el(
      "div",
      {},
      head,
      E.el("ul", { class: "plain" }, streams.map((p) => E.el("li", {}, p.flavour + " over " + p.xds + (p.identity ? ", identity " + p.identity : ", plaintext xDS") + ", connected ", E.time(p.connectedSince)))),
      E.section(
        "Configuration: sent against acknowledged",
        E.table("diff", ["Type", "State", "Sent", "Acknowledged", "Difference"], rows, "Nothing was sent to this proxy yet.")
      )
    );
  }

  E.pages.proxies = {
    title: "Proxies",
    refreshOn: ["nack", "push", "apply", "delete", "refused"],
    every: 5000,
    render: (arg) => (arg ? detail(arg) : list()),
  };
})(window.Embassy);
