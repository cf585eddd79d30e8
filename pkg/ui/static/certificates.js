"use strict";
// Certificates: the CA's roots and every agent's latest SVID, with how
// long each has left. Agents rotate at half an SVID's lifetime, so one
// past that point has missed its rotation.
(function (E) {
  // health judges a certificate by the share of its lifetime left.
  function health(issued, notAfter) {
    const end = Date.parse(notAfter);
    const now = Date.now();
    if (end <= now) return "expired";
    const start = Date.parse(issued);
    if (!Number.isNaN(start) && end > start && (end - now) / (end - start) < 0.45) return "rotation overdue";
    return "valid";
  }

  function expiry(issued, notAfter) {
    const h = health(issued, notAfter);
    return E.el("span", { class: "expiry", "data-health": h.replace(" ", "-") }, E.ago(notAfter), h === "valid" ? null : " (" + h + ")");
  }

  async function render() {
    const c = await E.get("/v1/certificates");
    const roots = (c.roots || []).map((r) => [
      r.subject,
      E.el("code", { title: r.fingerprint }, r.fingerprint.slice(0, 16)),
      r.active ? E.badge("active") : E.badge(r.retireAfter ? "retiring" : "published"),
      r.source || "embassy-cp",
      expiry(r.notBefore, r.notAfter),
    ]);
    const certs = (c.certificates || [])
      .slice()
      .sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter))
      .map((w) =>
        E.el(
          "tr",
          { "data-spiffe-id": w.spiffeID },
          E.el("td", {}, w.workload || E.el("span", { class: "muted" }, "—")),
          E.el("td", { class: "id" }, w.spiffeID),
          E.el("td", {}, E.el("code", {}, w.serial)),
          E.el("td", {}, w.issuer || "embassy-cp"),
          E.el("td", {}, E.time(w.issuedAt)),
          E.el("td", {}, expiry(w.issuedAt, w.notAfter))
        )
      );
    return E.el(
      "div",
      {},
      E.el("h1", {}, "Certificates"),
      E.el("p", { class: "summary" }, "Trust domain ", E.el("code", {}, c.trustDomain || "—")),
      E.section("CA roots", E.table("roots", ["Subject", "Fingerprint", "State", "CA", "Expires"], roots, "This control plane has no CA.")),
      E.section(
        "Workload certificates (SVIDs)",
        E.table("certificates", ["Workload", "SPIFFE ID", "Serial", "Issuer", "Last issued", "Expires"], certs, "No agent holds a certificate yet.")
      )
    );
  }

  E.pages.certificates = { title: "Certificates", refreshOn: ["rotation"], every: 10000, render };
})(window.Embassy);
