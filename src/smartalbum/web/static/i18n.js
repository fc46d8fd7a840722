// The page scripts' translations: t("English text", {name: value}) returns the text in the
// page's language (the layout hands this page's catalog over as the JSON block #i18n-messages;
// English pages get an empty one), with {name} placeholders filled in. Dates and numbers:
// smartalbumI18n.locale is the page's language tag for Intl.* formatters.
"use strict";

window.smartalbumI18n = (() => {
  const block = document.getElementById("i18n-messages");
  let messages = {};
  try { messages = block ? JSON.parse(block.textContent) : {}; } catch { messages = {}; }
  const locale = document.documentElement.lang || "en";
  const t = (text, params = {}) => {
    const template = Object.prototype.hasOwnProperty.call(messages, text) ? messages[text] : text;
    return template.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  };
  // The shipped model's label names, shown in the page's language (a user's own categories
  // keep the names they were given; data attributes and the API keep the label itself).
  const LABELS = {
    landscape: t("landscape"), people: t("people"), architecture: t("architecture"),
    pets: t("pets"), food: t("food"), documents: t("documents"),
  };
  const label = (name) => (name && Object.prototype.hasOwnProperty.call(LABELS, name) ? LABELS[name] : name);
  const number = (n, options) => new Intl.NumberFormat(locale, options).format(n);
  const date = (d, options) => new Intl.DateTimeFormat(locale, options).format(d);
  return { t, locale, number, date, label };
})();
window.t = window.smartalbumI18n.t;
