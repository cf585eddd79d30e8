"use strict";
// Policies: every AuthorizationPolicy with how it is enforced, which
// proxies hold its current revision, and the decisions their agents
// reported, dry-run would-denies included.
(function (E) {
  // count is one outcome's number; a zero is shown muted.
  const count = (key, label, n) => E.el("span", { "data-count": key, "data-zero": !n }, label + " " + (n || 0));

  function counts(d) {
    d = d || {};
    return E.el(
      "span",
      { class: "counts" },
      count("allow", "allow", d.allow),
      count("deny", "deny", d.deny),
      count("would-deny", "would deny", d.wouldDeny),
      count("error", "error", d.error)
    );
  }

  function targets(t) {
    const parts = [];
    for (const [k, v] of Object.entries(t || {})) {
      if (Array.isArray(v) && v.length) parts.push(k + ": " + v.join(", "));
      else if (v && typeof v === "object" && Object.keys(v).length) parts.push(k + ": " + JSON.stringify(v));
    }
    return parts.join("; ") || "—";
  }

  function proxies(list) {
    if (!list || list.length === 0) return E.el("span", { class: "muted" }, "none connected");
    return E.el(
      "ul",
      { class: "plain" },
      list.map((p) =>
        E.el(
          "li",
          {},
          E.el("code", {}, p.id),
          " ",
          p.current ? E.badge("current") : E.badge(p.ackedRevision ? "old revision" : "not loaded"),
          p.decisions ? E.el("div", { class: "muted" }, "reported ", E.ago(p.decisions.reportedAt), ": ", counts(p.decisions)) : null
        )
      )
    );
  }

  async function render() {
    const r = await E.get("/v1/policies");
    const rows = (r.policies || []).map((p) =>
      E.el(
        "tr",
        { "data-policy": p.namespace + "/" + p.name, "data-mode": p.mode },
        E.el("td", {}, E.el("strong", {}, p.namespace + "/" + p.name), E.el("div", { class: "muted" }, p.revision || "")),
        E.el("td", {}, E.badge(p.mode)),
        E.el(
          "td",
          {},
          p.compiled ? E.badge(p.enforcement) : E.badge("not compiled"),
          p.error ? E.el("div", { class: "error" }, p.error) : null,
          p.reason ? E.el("div", { class: "muted" }, p.reason + (p.location ? " (" + p.location + ")" : "")) : null
        ),
        E.el("td", {}, targets(p.targets), E.el("div", { class: "muted" }, (p.workloads || []).join(", "))),
        E.el("td", {}, proxies(p.proxies)),
        E.el("td", {}, counts(p.decisions))
      )
    );
    return E.el(
      "div",
      {},
      E.el("h1", {}, "Authorization policies"),
      E.el("p", { class: "summary" }, "Decisions are the agents' reports; a dry-run policy's would-deny counts requests it let through but would have refused."),
      E.table("policies", ["Policy", "Mode", "Enforced by", "Targets", "Proxies", "Decisions"], rows, "No AuthorizationPolicy is applied.")
    );
  }

  E.pages.policies = { title: "Policies", refreshOn: ["policy", "apply", "delete"], every: 5000, render };
})(window.Embassy);
