// Smart Album's API key, shared by the page scripts (the layout loads this one first): kept
// in sessionStorage, sent as X-API-Key (headers()), and asked for with the page's key form
// (#key-panel, templates/_parts.html, or built here on a page without one) when the server
// answers 401 — once, however many scripts on the page ask at the same time.
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

  // The page's key form; a page whose template has none (categories) gets the same form,
  // built here, under the top bar.
  function keyPanel() {
    const existing = document.getElementById("key-panel");
    if (existing) return existing;
    const panel = document.createElement("div");
    panel.id = "key-panel";
    panel.className = "key-panel";
    panel.hidden = true;
    const form = document.createElement("form");
    form.id = "key-form";
    const label = document.createElement("label");
    label.htmlFor = "api-key";
    label.textContent = t("This server needs an API key");
    const input = document.createElement("input");
    Object.assign(input, { id: "api-key", type: "password", autocomplete: "off", required: true });
    const button = document.createElement("button");
    Object.assign(button, { className: "button primary", type: "submit" });
    button.textContent = t("Use key");
    form.append(label, input, button);
    panel.append(form);
    const bar = document.querySelector("header.topbar");
    if (bar) bar.after(panel); else document.body.prepend(panel);
    return panel;
  }

  // Shows the form; resolves with the key once it is submitted.
  function ask() {
    const panel = keyPanel();
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
