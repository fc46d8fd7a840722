// The photo page's tags: list them, add one, remove one (the user's edits win over the
// automatic tags). Built with elements and text only, never HTML.
(() => {
  "use strict";
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);

  const { headers } = window.smartalbumKey;

  function render(data) {
    const list = $("photo-tags");
    list.replaceChildren();
    if (!data.tags.length) {
      const li = document.createElement("li");
      li.className = "hint";
      li.textContent = "No tags yet.";
      list.appendChild(li);
    }
    for (const t of data.tags) {
      const li = document.createElement("li");
      li.className = `tag-chip ${t.source}`;
      const label = document.createElement("span");
      label.textContent = t.tag;
      label.title = t.source === "user" ? "your tag" : `automatic, confidence ${Math.round(t.confidence * 100)}%`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove tag ${t.tag}`);
      remove.addEventListener("click", () => send("DELETE", `/${encodeURIComponent(t.tag)}`));
      li.append(label, remove);
      list.appendChild(li);
    }
  }

  async function send(method, suffix = "", body = undefined) {
    const id = document.body.dataset.photoId;
    const status = $("tag-status");
    try {
      const resp = await fetch(`${API}/photos/${id}/tags${suffix}`, {
        method,
        headers: headers(body ? { "Content-Type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined,
      });
      const data = await resp.json();
      if (!resp.ok) {
        status.textContent = `${data.title}: ${data.detail}`;
        return;
      }
      status.textContent = "";
      render(data);
    } catch (err) {
      status.textContent = "The tags could not be loaded.";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!$("photo-tags")) return;
    send("GET");
    $("tag-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("tag-input");
      const tag = input.value.trim();
      if (tag) send("POST", "", { tag }).then(() => { input.value = ""; });
    });
  });
})();
