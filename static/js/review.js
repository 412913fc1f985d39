// The review panel: selecting a passage in the chapter fills the comment/suggestion form's anchor (the quote, a
// little context either side, and where it starts, counted in characters as the server counts them); clicking a
// comment or suggestion selects its passage in the chapter.
(function () {
  const textarea = document.querySelector("#chapter-form textarea[name=content]");
  if (!textarea) return;
  const CONTEXT = 64;
  const codePoints = (text) => Array.from(text).length;
  function utf16Index(text, points) {
    let index = 0;
    for (let n = 0; n < points && index < text.length; n++) index += text.codePointAt(index) > 0xffff ? 2 : 1;
    return index;
  }
  function remember() {
    const form = document.querySelector("[data-review-form]");
    if (!form) return;
    const { selectionStart: start, selectionEnd: end, value } = textarea;
    if (start === end) return;  // keep the last selection while the writer types the comment
    const set = (name, text) => { form.querySelector(`[data-anchor=${name}]`).value = text; };
    set("quote", value.slice(start, end));
    set("prefix", value.slice(Math.max(0, start - CONTEXT), start));
    set("suffix", value.slice(end, end + CONTEXT));
    set("start", String(codePoints(value.slice(0, start))));
    const quote = value.slice(start, end);
    form.querySelector("[data-anchor-shown]").textContent =
      `On “${quote.length > 80 ? quote.slice(0, 80) + "…" : quote}”`;
    const replacement = form.querySelector("[data-replacement]");
    if (replacement && !replacement.value) replacement.value = quote;
  }
  ["mouseup", "keyup", "select"].forEach((name) => textarea.addEventListener(name, remember));
  document.addEventListener("click", (event) => {
    const item = event.target.closest("[data-comment], [data-suggestion]");
    if (!item || event.target.closest("form") || item.dataset.state === "gone") return;
    const value = textarea.value;
    textarea.focus();
    textarea.setSelectionRange(utf16Index(value, Number(item.dataset.at)), utf16Index(value, Number(item.dataset.end)));
  });
  // An accepted suggestion changed the stored chapter: show it, unless this page holds typing not yet saved.
  document.body.addEventListener("chapter-changed", () => {
    const status = document.querySelector("[data-save-status]");
    if (!window.storyCowrite && (!status || status.dataset.state === "saved")) window.location.reload();
  });
})();
