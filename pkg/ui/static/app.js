"use strict";
// The page router: #/<page>[/<arg>] picks a page; a page is redrawn
// when an event of a kind it lists arrives (batched), and every `every`
// milliseconds for what events do not announce (agents' decision
// reports, certificates nearing expiry). A live page instead takes each
// event as it comes.
(function (E) {
  const order = ["graph", "proxies", "certificates", "policies", "rollouts", "events"];
  const batchMs = 250; // events of one apply arrive together: redraw once
  const recentKept = 200;
  const recent = []; // live events, for a live page drawn while they came
  let drawing = 0;
  let timer = null;
  let pending = null;

  function route() {
    const h = location.hash.replace(/^#\/?/, "");
    const i = h.indexOf("/");
    const page = (i < 0 ? h : h.slice(0, i)) || "graph";
    return { page, arg: i < 0 ? "" : decodeURIComponent(h.slice(i + 1)) };
  }

  function nav(current) {
    const n = document.getElementById("nav");
    n.replaceChildren(
      ...order.map((p) => E.el("a", { href: "#/" + p, "aria-current": p === current ? "page" : null }, E.pages[p].title))
    );
  }

  async function draw() {
    const { page, arg } = route();
    const p = E.pages[page];
    nav(page);
    const main = document.getElementById("page");
    clearInterval(timer);
    if (!p) {
      main.replaceChildren(E.errorBox("No page " + page + ": pick one above."));
      return;
    }
    document.title = p.title + " · Embassy mesh";
    const mine = ++drawing;
    main.dataset.state = "loading";
    let node;
    try {
      node = await p.render(arg);
    } catch (e) {
      node = E.errorBox(e);
    }
    if (mine !== drawing) return; // a newer draw started
    main.replaceChildren(node);
    main.dataset.page = page;
    main.dataset.state = "ready";
    if (p.live && node.onLiveEvent) recent.forEach(node.onLiveEvent);
    if (p.every) timer = setInterval(draw, p.every);
  }

  function onEvent(ev) {
    recent.push(ev);
    if (recent.length > recentKept) recent.shift();
    const p = E.pages[route().page];
    const node = document.getElementById("page").firstElementChild;
    if (p && p.live && node && node.onLiveEvent) {
      node.onLiveEvent(ev);
      return;
    }
    if (p && p.refreshOn.includes(ev.kind) && !pending) {
      pending = setTimeout(() => {
        pending = null;
        draw();
      }, batchMs);
    }
  }

  function tokenForm() {
    const form = document.getElementById("token-form");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      E.setToken(document.getElementById("token").value.trim());
      document.getElementById("token").value = "";
      form.hidden = true;
      E.retryStream();
      draw();
    });
  }

  tokenForm();
  E.onEvent(onEvent);
  window.addEventListener("hashchange", draw);
  draw();
  E.follow();
})(window.Embassy);
