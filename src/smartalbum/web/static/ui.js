// The shared behaviour of app.css's components, for every page (the layout loads it before
// the page's scripts): smartalbumUI.toast() shows a short message in the corner (with an
// optional action such as "Undo"), smartalbumUI.confirm() asks a question in a native
// <dialog> and resolves true or false. Text goes in with textContent only.
"use strict";

window.smartalbumUI = (() => {
  let region = null;

  function toasts() {
    if (!region) {
      region = document.createElement("div");
      region.className = "toasts";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.append(region);
    }
    return region;
  }

  // toast("Merged", {action: "Undo", onAction: () => ..., error: false, timeout: 6000})
  function toast(message, { action = "", onAction = null, error = false, timeout = 6000 } = {}) {
    const node = document.createElement("div");
    node.className = error ? "toast error" : "toast";
    const text = document.createElement("span");
    text.textContent = message;
    node.append(text);
    const close = () => node.remove();
    if (action && onAction) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button small";
      button.textContent = action;
      button.addEventListener("click", () => { close(); onAction(); });
      node.append(button);
    }
    toasts().append(node);
    if (timeout) setTimeout(close, timeout);
    return close;
  }

  // await confirm({title, message, confirm: "Merge", danger: false}) -> true | false
  function confirm({ title = "", message = "", confirm: yes = t("OK"), danger = false } = {}) {
    return new Promise((resolve) => {
      const dialog = document.createElement("dialog");
      if (title) {
        const h = document.createElement("h2");
        h.textContent = title;
        dialog.append(h);
      }
      const p = document.createElement("p");
      p.textContent = message;
      const actions = document.createElement("div");
      actions.className = "dialog-actions";
      const no = document.createElement("button");
      no.type = "button";
      no.className = "button";
      no.textContent = t("Cancel");
      const ok = document.createElement("button");
      ok.type = "button";
      ok.className = danger ? "button danger" : "button primary";
      ok.textContent = yes;
      actions.append(no, ok);
      dialog.append(p, actions);
      let answer = false;
      no.addEventListener("click", () => dialog.close());
      ok.addEventListener("click", () => { answer = true; dialog.close(); });
      dialog.addEventListener("close", () => { dialog.remove(); resolve(answer); });
      document.body.append(dialog);
      dialog.showModal();
      ok.focus();
    });
  }

  return { toast, confirm };
})();
