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
      li.textContent = t("No tags yet.");
      list.appendChild(li);
    }
    for (const tag of data.tags) {
      const li = document.createElement("li");
      li.className = `tag-chip ${tag.source}`;
      const label = document.createElement("span");
      label.textContent = tag.tag;
      label.title = tag.source === "user" ? t("your tag") : t("automatic, confidence {percent}", {
        percent: window.smartalbumI18n.number(tag.confidence, { style: "percent" }) });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", t("Remove tag {tag}", { tag: tag.tag }));
      remove.addEventListener("click", () => send("DELETE", `/${encodeURIComponent(tag.tag)}`));
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
      status.textContent = t("The tags could not be loaded.");
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
