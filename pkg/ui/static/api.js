"use strict";
// The dashboard's only way to the control plane: the status API's JSON
// routes, called with the read token the operator typed in (kept in this
// tab's sessionStorage, never in the page or a cookie), or without one
// when embassy-cp allows anonymous reads from loopback.
window.Embassy = window.Embassy || { pages: {} };
(function (E) {
  const tokenKey = "embassy.readToken";

  E.token = () => sessionStorage.getItem(tokenKey) || "";
  E.setToken = (t) => (t ? sessionStorage.setItem(tokenKey, t) : sessionStorage.removeItem(tokenKey));

  // APIError carries the HTTP status and the API's own message, which
  // says what to do.
  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  E.APIError = APIError;

  E.headers = function (extra) {
    const h = Object.assign({ Accept: "application/json" }, extra);
    const t = E.token();
    if (t) h.Authorization = "Bearer " + t;
    return h;
  };

  async function decode(resp, what) {
    let body = null;
    try {
      body = await resp.json();
    } catch (_) {
      // An empty or non-JSON body: the status line says enough.
    }
    if (!resp.ok) {
      const msg = (body && body.error) || resp.statusText;
      if (resp.status === 401) E.askToken(msg);
      throw new APIError(resp.status, what + ": " + resp.status + " " + msg);
    }
    return body;
  }

  // get reads one API route.
  E.get = async function (path) {
    const resp = await fetch(path, { headers: E.headers(), cache: "no-store" });
    return decode(resp, "GET " + path);
  };

  // post sends a read-only query (POST /v1/check) as JSON, the only body
  // type the API takes.
  E.post = async function (path, body) {
    const resp = await fetch(path, {
      method: "POST",
      headers: E.headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
      cache: "no-store",
    });
    return decode(resp, "POST " + path);
  };

  // getOr404 answers null for a 404, for objects the control plane may
  // have forgotten (old changes, a proxy that went away).
  E.getOr404 = async function (path) {
    try {
      return await E.get(path);
    } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
  };

  // askToken shows the token form with the API's reason.
  E.askToken = function (why) {
    const form = document.getElementById("token-form");
    document.getElementById("token-why").textContent = why;
    form.hidden = false;
  };
})(window.Embassy);
