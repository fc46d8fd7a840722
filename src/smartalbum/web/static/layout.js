// The header every page shares (templates/_layout.html): fills the model line when the page
// marks it data-auto (pages whose own script does not: the model's name and how many
// categories its default head sorts into; quiet on failure, the line stays hidden), and
// makes sure the skip link lands somewhere: a page's <main> without id="content" gets it.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const skip = document.querySelector(".skip-link[href='#content']");
  const main = document.querySelector("main");
  if (skip && main && !document.getElementById("content")) main.id = "content";
  if (main && !main.hasAttribute("tabindex")) main.tabIndex = -1;  // focusable target
  // On a phone the sections scroll sideways: show the current one.
  const current = document.querySelector(".topnav [aria-current='page']");
  if (current) current.scrollIntoView({ block: "nearest", inline: "nearest" });

  // An empty search is no search: the button opens (focuses) the field instead.
  const search = document.querySelector(".search-box");
  if (search) {
    search.addEventListener("submit", (event) => {
      const field = search.querySelector("input[type='search']");
      if (field && !field.value.trim()) { event.preventDefault(); field.focus(); }
    });
  }

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
