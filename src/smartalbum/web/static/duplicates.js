// Smart Album duplicates: the groups, page by page, and "Keep this copy" on each copy — the
// other copies of the group are moved into the data directory's duplicates/ folder through
// organise's journal (POST /api/v1/duplicates/resolve), and the undo bar puts them back
// (POST /api/v1/duplicates/resolutions/<name>/undo). Nothing is deleted.
"use strict";

(() => {
  const A = window.smartalbumActions;
  const { t, el } = A;
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const list = $("groups");
  let cursor = null;
  let loading = false;

  function formatBytes(n) {
    if (!n) return "–";
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${(window.smartalbumI18n ? window.smartalbumI18n.number(n, { maximumFractionDigits: 1 }) : n.toFixed(1))} ${units[i]}`;
  }

  function shortPath(path) {
    const parts = path.split("/");
    return parts.length > 3 ? `…/${parts.slice(-3).join("/")}` : path;
  }

  // The server's reason (English) in the page's language.
  function reasonText(reason) {
    const rules = [
      [/^largest resolution \((\d+)x(\d+)\)$/, (m) => t("largest resolution ({width} × {height})", { width: m[1], height: m[2] })],
      [/^earliest taken \((.+)\)$/, (m) => t("earliest taken ({when})", { when: A.formatDate(m[1].replace(" ", "T"), true) })],
      [/^sharpest \(blur score (\d+)\)$/, (m) => t("sharpest (sharpness {score})", { score: m[1] })],
      [/^first in the catalog/, () => t("first in the catalog (the copies tie on size, date and sharpness)")],
      [/^identical bytes/, () => t("identical bytes (same SHA-256); the copy indexed first")],
      [/^the only copy$/, () => t("the only copy")],
    ];
    for (const [pattern, text] of rules) {
      const m = reason.match(pattern);
      if (m) return text(m);
    }
    return reason;
  }

  async function keep(group, member, node) {
    const others = group.members.length - 1;
    const ok = await A.confirmDialog(
      t("Keep this copy?"),
      t("The {count} other copies are moved to the duplicates folder of the data directory. Nothing is deleted; you can undo it.", { count: others }),
      t("Keep this copy"),
    );
    if (!ok) return;
    node.closest(".dup-group").querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const done = await A.send("POST", `${API}/duplicates/resolve`, { photo_id: member.photo_id, path: member.path });
      const text = t("Kept {path}; {count} copies moved to {folder}.", { path: shortPath(member.path), count: done.moved, folder: done.folder });
      A.announce(text);
      if (done.failed.length) A.notice(t("Some copies could not be moved: {list}", { list: done.failed.join("; ") }));
      A.offerUndo(text, async () => {
        const back = await A.send("POST", `${API}/duplicates/resolutions/${encodeURIComponent(done.resolution)}/undo`);
        A.announce(t("Undone: {count} copies are back where they were.", { count: back.restored }));
        if (back.conflicts.length) A.notice(back.conflicts.join("; "));
        reload();
      });
      reload();
    } catch (err) {
      A.notice(t("Could not keep this copy: {why}", { why: err.message }));
      node.closest(".dup-group").querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }

  function renderGroup(group) {
    const li = $("group-template").content.firstElementChild.cloneNode(true);
    li.dataset.kind = group.kind;
    const title = group.kind === "exact"
      ? t("{count} identical copies", { count: group.members.length })
      : t("{count} near-duplicates", { count: group.members.length });
    li.querySelector(".dup-title").textContent = title;
    li.querySelector(".dup-reason").textContent = t("Suggested: {reason}", { reason: reasonText(group.reason) });
    const members = li.querySelector(".dup-members");
    group.members.forEach((m, i) => {
      const node = $("member-template").content.firstElementChild.cloneNode(true);
      node.classList.toggle("keep", i === 0);
      node.querySelector(".keep-mark").hidden = i !== 0;
      const link = node.querySelector(".thumb");
      link.href = `/gallery/photos/${m.photo_id}`;
      link.dataset.viewerPhoto = String(m.photo_id);
      link.setAttribute("aria-label", t("Photo {id}", { id: m.photo_id }));
      A.thumb(node.querySelector("img"), m.thumbnail);
      node.querySelector(".resolution").textContent = `${m.width} × ${m.height}`;
      node.querySelector(".size").textContent = formatBytes(m.size);
      node.querySelector(".taken").textContent = A.formatDate(m.taken_at, true);
      node.querySelector(".sharpness").textContent = m.blur === null ? "–" : String(Math.round(m.blur));
      const path = node.querySelector(".path");
      path.textContent = m.path ? shortPath(m.path) : t("(no copy on disk)");
      path.title = m.path || "";
      const button = node.querySelector(".keep-button");
      button.disabled = !m.path;
      button.setAttribute("aria-label", t("Keep this copy: {path}", { path: m.path || "" }));
      button.addEventListener("click", () => keep(group, m, node));
      members.appendChild(node);
    });
    return li;
  }

  async function loadPage() {
    if (loading) return;
    loading = true;
    try {
      const query = new URLSearchParams(cursor ? { cursor } : {});
      const page = await A.getJson(`${API}/duplicates?${query}`);
      page.groups.forEach((g) => list.appendChild(renderGroup(g)));
      $("dup-summary").textContent = t("{count} groups", { count: page.total });
      $("empty").hidden = page.total > 0;
      cursor = page.next_cursor;
      $("load-more").hidden = !cursor;
    } catch (err) {
      A.notice(t("Could not load the duplicates: {why}", { why: err.message }));
    } finally {
      loading = false;
    }
  }

  function reload() {
    list.replaceChildren();
    cursor = null;
    loadPage();
  }

  $("load-more").addEventListener("click", loadPage);
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && cursor) loadPage();
  }).observe($("sentinel"));
  loadPage();
})();
