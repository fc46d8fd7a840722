// The header's model line on pages whose own script does not fill it (templates/_layout.html
// marks that line data-auto): the model's name and how many categories its default head
// sorts into. Quiet on failure (an API key not given yet, a server without a model): the
// line stays empty and hidden.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const line = document.getElementById("model-info");
  if (!line || !("auto" in line.dataset)) return;
  try {
    const resp = await fetch("/api/v1/model", { headers: window.smartalbumKey.headers() });
    if (!resp.ok) return;
    const model = await resp.json();
    const head = model.heads.find((h) => h.name === model.default_head) || model.heads[0];
    line.textContent = head
      ? t("{model} · {count} categories", {
        model: model.name, count: window.smartalbumI18n.number(head.labels.length) })
      : model.name;
  } catch { /* the line stays empty */ }
});
