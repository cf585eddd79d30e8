"use strict";
// Mesh: callers (identities, with the workloads that hold them) on the
// left, services (with the workloads that serve them) on the right, and
// an edge for each pair saying whether the caller may call the service,
// as POST /v1/check answers over the current snapshot: allowed, allowed
// but denied by a dry-run policy (would deny), or denied; each edge is
// labelled with the mTLS mode it runs under.
(function (E) {
  // maxNodes bounds each side: beyond it the graph is unreadable, and
  // each pair costs the control plane one policy evaluation per draw.
  const maxNodes = 20;
  const lineH = 16;
  const width = 980;
  const boxW = 330;
  const leftX = 20;
  const rightX = width - boxW - 20;

  function spiffeID(td, ns, sa) {
    return "spiffe://" + td + "/ns/" + ns + "/sa/" + sa;
  }

  // callers gathers every identity a workload holds: from the agents'
  // certificates and from the Workloads' service accounts.
  function callers(td, certs, workloads) {
    const by = new Map();
    const add = (id, wl) => {
      if (!by.has(id)) by.set(id, new Set());
      if (wl) by.get(id).add(wl);
    };
    // An agent names its workload without the namespace, a Workload
    // resource with it: show both as name.namespace.
    const nsOf = (id) => (id.match(/\/ns\/([^/]+)\//) || [])[1] || "default";
    for (const c of certs.certificates || []) add(c.spiffeID, c.workload && !c.workload.includes(".") ? c.workload + "." + nsOf(c.spiffeID) : c.workload);
    for (const w of workloads.items || []) {
      const sa = (w.spec || {}).serviceAccount;
      if (sa && td) add(spiffeID(td, w.metadata.namespace || "default", sa), w.metadata.name + "." + (w.metadata.namespace || "default"));
    }
    return [...by.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([id, wls]) => ({ id, workloads: [...wls].sort() }));
  }

  // verdict classifies one what-if answer.
  function verdict(a) {
    if (!a) return "unknown";
    if (!a.allowed) return "denied";
    if ((a.authorization || []).some((d) => d.outcome === "would-deny")) return "would-deny";
    return "allowed";
  }

  // methods are the requests the graph can ask about; a dry-run policy
  // may would-deny one and not another.
  const methods = ["GET", "POST", "PUT", "DELETE"];

  async function edges(from, services, method) {
    const jobs = [];
    for (const c of from) {
      for (const s of services) {
        const port = (s.ports || [])[0];
        if (!port) continue;
        const to = s.name + "." + s.namespace + ":" + port.port;
        jobs.push(
          E.post("/v1/check", { from: c.id, to, method, path: "/" }).then(
            (a) => ({ from: c.id, to: s.name + "." + s.namespace, answer: a, kind: verdict(a) }),
            (e) => ({ from: c.id, to: s.name + "." + s.namespace, error: e.message, kind: "unknown" })
          )
        );
      }
    }
    return Promise.all(jobs);
  }

  // column lays boxes out top to bottom and returns each box's centre y.
  function column(items, x, lines, cls, key) {
    const nodes = [];
    const at = new Map();
    let y = 40;
    for (const it of items) {
      const ls = lines(it);
      const h = 12 + lineH * ls.length;
      nodes.push(
        E.svg(
          "g",
          { class: "node " + cls, "data-node": key(it) },
          E.svg("rect", { x, y, width: boxW, height: h, rx: 6 }),
          ls.map((l, i) => E.svg("text", { x: x + 10, y: y + 20 + i * lineH, class: i === 0 ? "title" : "sub" }, l))
        )
      );
      at.set(key(it), y + h / 2);
      y += h + 14;
    }
    return { nodes, at, height: y };
  }

  function draw(from, services, es) {
    const left = column(from, leftX, (c) => [c.id.replace(/^spiffe:\/\/[^/]+\//, ""), ...c.workloads.map((w) => "workload " + w)], "caller", (c) => c.id);
    const right = column(
      services,
      rightX,
      (s) => [
        s.name + "." + s.namespace + "  (" + (s.ports || []).map((p) => p.protocol + " " + p.port).join(", ") + ")",
        ...((s.endpoints || []).length ? s.endpoints.map((e) => "← " + (e.workload || e.address) + (e.labels && e.labels.version ? " [" + e.labels.version + "]" : "")) : ["no endpoints"]),
      ],
      "service",
      (s) => s.name + "." + s.namespace
    );
    const lines = es.map((e, i) => {
      const y1 = left.at.get(e.from);
      const y2 = right.at.get(e.to);
      const x1 = leftX + boxW;
      const x2 = rightX;
      const mx = (x1 + x2) / 2;
      const mode = e.answer ? e.answer.mtls.mode : "?";
      const t = 0.3 + 0.4 * ((i % 5) / 4); // spread the labels along the edges
      const lx = x1 + (x2 - x1) * t;
      const ly = y1 + (y2 - y1) * t;
      const why = e.error || (e.answer && (e.answer.reasons || []).join("; ")) || e.kind;
      return E.svg(
        "g",
        { class: "edge " + e.kind, "data-from": e.from, "data-to": e.to, "data-mtls": mode },
        E.svg("title", {}, e.from + " → " + e.to + ": " + e.kind + ", mTLS " + mode + (why !== e.kind ? " — " + why : "")),
        E.svg("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }),
        E.svg("text", { x: lx, y: ly - 3, class: "label" }, mode)
      );
    });
    const height = Math.max(left.height, right.height, 120);
    return E.svg(
      "svg",
      { class: "graph", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "who may call whom" },
      E.svg("text", { x: leftX, y: 22, class: "heading" }, "Callers (identities)"),
      E.svg("text", { x: rightX, y: 22, class: "heading" }, "Services"),
      lines,
      left.nodes,
      right.nodes
    );
  }

  async function render(arg) {
    const method = methods.includes(arg) ? arg : "GET";
    const [status, svcs, workloads, certs] = await Promise.all([
      E.get("/v1/status"),
      E.get("/v1/services"),
      E.get("/v1/resources/workloads"),
      // Without a CA (503) the Workloads' service accounts still name callers.
      E.get("/v1/certificates").catch((e) => {
        if (e.status === 503) return { certificates: [] };
        throw e;
      }),
    ]);
    const allFrom = callers(status.trustDomain || certs.trustDomain, certs, workloads);
    const allServices = svcs.services || [];
    const from = allFrom.slice(0, maxNodes);
    const services = allServices.slice(0, maxNodes);
    const cut = allFrom.length > from.length || allServices.length > services.length;
    const es = await edges(from, services, method);
    const n = (k) => es.filter((e) => e.kind === k).length;
    return E.el(
      "div",
      {},
      E.el("h1", {}, "Mesh"),
      E.el(
        "p",
        { class: "summary" },
        `${services.length} services, ${from.length} caller identities at revision ${svcs.revision}: ${n("allowed")} allowed, ${n("would-deny")} would be denied (dry-run), ${n("denied")} denied. `,
        `Each edge is what the mesh would do with a ${method} / from that identity (embassyctl check); its label is the mTLS mode.`,
        cut ? ` Only the first ${maxNodes} of ${allFrom.length} callers and ${allServices.length} services are drawn: ask about others with embassyctl check.` : null
      ),
      E.el(
        "p",
        { class: "methods" },
        "Request: ",
        methods.map((m) => (m === method ? E.el("strong", { "data-method": m }, m) : E.link("#/graph/" + m, m)))
      ),
      E.el(
        "p",
        { class: "legend" },
        E.el("span", { class: "key allowed" }, "allowed"),
        E.el("span", { class: "key would-deny" }, "would deny (dry-run)"),
        E.el("span", { class: "key denied" }, "denied"),
        E.el("span", { class: "key unknown" }, "not answered")
      ),
      from.length && services.length ? draw(from, services, es) : E.el("p", { class: "muted empty" }, "No services or no caller identities yet.")
    );
  }

  E.pages.graph = { title: "Mesh", refreshOn: ["apply", "delete", "policy"], every: 0, render };
})(window.Embassy);
