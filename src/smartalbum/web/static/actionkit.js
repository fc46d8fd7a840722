// Small helpers shared by the pages of issue 15's actions (duplicates, trips, a trip's page,
// people, the drop page's "add to library"): fetch with the API key, JSON, elements, thumbnails
// fetched with the key, dates in the page's locale, an undo bar and a confirm <dialog>.
// Every string from the server goes in with textContent, never as HTML.
"use strict";

window.smartalbumActions = (() => {
  const t = window.t || ((s, p = {}) => s.replace(/\{(\w+)\}/g, (m, k) => (k in p ? String(p[k]) : m)));
  const headers = () => window.smartalbumKey.headers();

  class Problem extends Error {
    constructor(status, title, detail, code) {
      super(detail || title);
      this.status = status;
      this.title = title;
      this.code = code || "";
    }
  }

  async function api(path, options = {}) {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const init = { ...options, headers: { ...(options.headers || {}), ...headers() } };
      let resp;
      try {
        resp = await fetch(path, init);
      } catch {
        throw new Problem(0, t("Network error"), t("The server could not be reached."));
      }
      if (resp.status === 401) { await window.smartalbumKey.ask(); continue; }
      if (resp.status === 429) {
        const wait = Number(resp.headers.get("Retry-After")) || 2;
        await new Promise((r) => setTimeout(r, Math.min(wait, 60) * 1000));
        continue;
      }
      if (!resp.ok) {
        let body = {};
        try { body = await resp.json(); } catch { /* not JSON */ }
        throw new Problem(resp.status, body.title || resp.statusText, body.detail || "", body.code);
      }
      return resp;
    }
    throw new Problem(0, t("Too many attempts"), "");
  }

  const getJson = async (path) => (await api(path)).json();
  const send = async (method, path, body) => (await api(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  })).json();

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function notice(text) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  function announce(text) {
    const live = document.getElementById("live");
    if (live) live.textContent = text;
  }

  // A thumbnail: a plain URL without a key, else fetched with it (blob: URL).
  function thumb(img, url) {
    if (!window.smartalbumKey.get()) { img.src = url; return; }
    api(url).then((r) => r.blob()).then((b) => { img.src = URL.createObjectURL(b); })
      .catch(() => { img.alt = t("no preview"); });
  }

  const locale = (window.smartalbumI18n && window.smartalbumI18n.locale) || undefined;
  function formatDate(iso, withTime = false) {
    if (!iso) return t("undated");
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const options = withTime
      ? { dateStyle: "medium", timeStyle: "short" } : { dateStyle: "medium" };
    return new Intl.DateTimeFormat(locale, options).format(d);
  }

  // A photo tile for a grid the viewer opens (data-viewer-grid on the list).
  function photoTile(id, thumbnail, label, extraClass) {
    const li = el("li", extraClass ? `action-tile ${extraClass}` : "action-tile");
    const a = el("a", "thumb");
    a.href = `/gallery/photos/${id}`;
    a.dataset.viewerPhoto = String(id);
    a.setAttribute("aria-label", label || t("Photo {id}", { id }));
    const img = el("img");
    img.alt = "";
    img.loading = "lazy";
    img.decoding = "async";
    thumb(img, thumbnail || `/api/v1/photos/${id}/thumbnail`);
    a.append(img);
    li.append(a);
    return li;
  }

  // Asks with the page's <dialog id="confirm-dialog">; resolves true on "OK".
  function confirmDialog(title, text, okText) {
    const dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(false);
    dialog.querySelector(".confirm-title").textContent = title;
    dialog.querySelector(".confirm-text").textContent = text;
    dialog.querySelector(".confirm-ok").textContent = okText || t("OK");
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
    });
  }

  // The undo bar (#undo-bar): a message and an Undo button running ``undo()`` once.
  function offerUndo(text, undo) {
    const bar = document.getElementById("undo-bar");
    if (!bar) return;
    bar.querySelector(".undo-text").textContent = text;
    const button = bar.querySelector(".undo-button");
    const fresh = button.cloneNode(true);
    button.replaceWith(fresh);
    fresh.disabled = false;
    fresh.addEventListener("click", async () => {
      fresh.disabled = true;
      try {
        await undo();
        bar.hidden = true;
      } catch (err) {
        notice(err.message);
        fresh.disabled = false;
      }
    }, { once: false });
    bar.hidden = false;
  }

  return { t, api, getJson, send, el, notice, announce, thumb, formatDate, photoTile, confirmDialog, offerUndo, Problem };
})();
