// Smart Album's API key, shared by the page scripts (the layout loads this one first): kept
// in sessionStorage, sent as X-API-Key (headers()), and asked for with the page's key form
// (#key-panel, templates/_parts.html) when the server answers 401 — once, however many
// scripts on the page ask at the same time.
"use strict";

window.smartalbumKey = (() => {
  const STORAGE = "smartalbum-api-key";
  let prompt = null;  // the pending promise while the form is shown

  const get = () => sessionStorage.getItem(STORAGE) || "";

  // The extra headers, plus X-API-Key when a key was entered.
  const headers = (extra = {}) => {
    const key = get();
    return key ? { ...extra, "X-API-Key": key } : extra;
  };

  // Shows the form; resolves with the key once it is submitted. Rejects on a page without
  // the form (nothing could ever answer).
  function ask() {
    const panel = document.getElementById("key-panel");
    if (!panel) return Promise.reject(new Error(t("This server needs an API key")));
    if (!prompt) {
      prompt = new Promise((resolve) => {
        const input = document.getElementById("api-key");
        panel.hidden = false;
        input.focus();
        document.getElementById("key-form").addEventListener("submit", (ev) => {
          ev.preventDefault();
          sessionStorage.setItem(STORAGE, input.value.trim());
          panel.hidden = true;
          prompt = null;
          resolve(get());
        }, { once: true });
      });
    }
    return prompt;
  }

  return { get, headers, ask };
})();
