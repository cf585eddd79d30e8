"use strict";
// Rollouts: the latest applies and deletes, each followed to the
// proxies its push changed (GET /v1/changes/c-<revision>).
(function (E) {
  const shown = 15; // latest changes listed

  function proxyStates(c) {
    if (!c) return E.el("span", { class: "muted" }, "older than what the control plane remembers");
    if (!c.pushed) return E.el("span", { class: "muted" }, "not pushed yet");
    if (!c.proxies || c.proxies.length === 0) return E.el("span", { class: "muted" }, "changed no connected proxy");
    return E.el(
      "ul",
      { class: "plain" },
      c.proxies.map((p) =>
        E.el(
          "li",
          {},
          E.el("code", {}, p.id),
          " ",
          E.badge(p.state),
          " ",
          E.el("span", { class: "muted" }, p.types.map((t) => E.shortType(t.typeUrl)).join(", ")),
          p.message ? E.el("div", { class: "nack" }, p.message) : null
        )
      )
    );
  }

  async function render() {
    const r = await E.get("/v1/events?limit=0");
    const changes = (r.events || [])
      .filter((e) => (e.kind === "apply" || e.kind === "delete") && e.revision)
      .slice(-shown)
      .reverse();
    const follow = await Promise.all(changes.map((e) => E.getOr404("/v1/changes/c-" + e.revision)));
    const rows = changes.map((e, i) => {
      const c = follow[i];
      return E.el(
        "tr",
        { "data-change": "c-" + e.revision },
        E.el("td", {}, E.el("code", {}, "c-" + e.revision), E.el("div", { class: "muted" }, e.kind + " ", E.time(e.time))),
        E.el("td", {}, E.el("ul", { class: "plain" }, (e.resources || []).map((x) => E.el("li", {}, x)))),
        E.el("td", {}, c ? E.badge(c.state) : E.badge("forgotten")),
        E.el("td", {}, c && c.convergenceSeconds ? (c.convergenceSeconds * 1000).toFixed(1) + " ms" : ""),
        E.el("td", {}, proxyStates(c))
      );
    });
    return E.el(
      "div",
      {},
      E.el("h1", {}, "Rollouts"),
      E.el("p", { class: "summary" }, "The latest " + shown + " changes and what each proxy did with them: CONVERGED once every proxy it changed acknowledged it, FAILED when one rejected it."),
      E.table("rollouts", ["Change", "Resources", "State", "Converged in", "Proxies"], rows, "Nothing was applied since the control plane started.")
    );
  }

  E.pages.rollouts = { title: "Rollouts", refreshOn: ["apply", "delete", "push", "nack"], every: 5000, render };
})(window.Embassy);
