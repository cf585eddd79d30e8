"use strict";
// The live event stream: GET /v1/events?follow=true read as Server-Sent
// Events through fetch, because EventSource cannot send the read token.
// Each event goes to every listener; the stream reconnects after a
// break, waiting longer each time up to maxRetryMs.
(function (E) {
  const maxRetryMs = 5000;
  const listeners = new Set();
  let lastSeq = 0;
  let wake = null; // ends the wait before the next attempt

  // onEvent registers f for every live event; it returns the function
  // that unregisters it.
  E.onEvent = function (f) {
    listeners.add(f);
    return () => listeners.delete(f);
  };

  function setState(state, text) {
    const n = document.getElementById("stream");
    n.dataset.state = state;
    n.textContent = text;
  }

  function dispatch(block) {
    const data = block
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trimStart())
      .join("\n");
    if (block.startsWith(": subscribed")) setState("live", "live");
    if (!data) return;
    const ev = JSON.parse(data);
    lastSeq = Math.max(lastSeq, ev.seq || 0);
    for (const f of listeners) f(ev);
  }

  async function readOnce() {
    const resp = await fetch("/v1/events?follow=true", {
      headers: E.headers({ Accept: "text/event-stream" }),
      cache: "no-store",
    });
    if (!resp.ok) {
      let msg = resp.statusText;
      try {
        msg = (await resp.json()).error || msg;
      } catch (_) {
        // keep the status text
      }
      if (resp.status === 401) E.askToken(msg);
      const err = new Error(resp.status + " " + msg);
      err.status = resp.status;
      throw err;
    }
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        dispatch(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
  }

  // follow keeps the stream open for the page's lifetime. Without a
  // valid token it waits for one (E.retryStream) rather than asking again.
  E.follow = async function () {
    let wait = 500;
    for (;;) {
      let untilWoken = false;
      try {
        await readOnce();
        wait = 500;
        setState("broken", "stream ended; reconnecting…");
      } catch (e) {
        untilWoken = e.status === 401;
        setState("broken", "stream: " + e.message + (untilWoken ? "" : "; reconnecting…"));
      }
      await new Promise((r) => {
        wake = r;
        if (!untilWoken) setTimeout(r, wait);
      });
      wake = null;
      wait = Math.min(wait * 2, maxRetryMs);
    }
  };

  // retryStream reconnects now, after the token changed.
  E.retryStream = () => wake && wake();

  E.lastSeq = () => lastSeq;
})(window.Embassy);
