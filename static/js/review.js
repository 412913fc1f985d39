// The review panel: selecting a passage in the chapter fills the comment/suggestion form's anchor (the quote, a
// little context either side, and where it starts, counted in characters as the server counts them); clicking a
// comment or suggestion selects its passage in the chapter, and their passages are marked in the editor.
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

  // Marks in the editor: the passages of open comments and waiting suggestions, highlighted. A copy of the text in
  // transparent ink with <mark>s lies over the textarea (clicks pass through), laid out and scrolled exactly as it
  // is. Each passage is found again as the text changes: its quote, nearest where it was.
  const MAX_MARKS = 100;
  const NEAR = 2000;
  let marks = [];
  let backdrop = null;
  let drawing = 0;
  function collectMarks() {
    const value = textarea.value;
    marks = Array.from(document.querySelectorAll("[data-suggestion], [data-comment]:not(.resolved)"))
      .filter((item) => item.dataset.state !== "gone" && item.dataset.quote)
      .slice(0, MAX_MARKS)
      .map((item) => ({ quote: item.dataset.quote, at: utf16Index(value, Number(item.dataset.at)),
                        kind: item.hasAttribute("data-suggestion") ? "suggestion" : "comment" }));
    draw();
  }
  function nearest(text, quote, hint) {
    if (text.startsWith(quote, hint)) return hint;
    const close = text.indexOf(quote, Math.max(0, hint - NEAR));
    if (close !== -1 && close <= hint + NEAR) return close;
    let best = -1;
    for (let i = text.indexOf(quote), n = 0; i !== -1 && n < 200; i = text.indexOf(quote, i + 1), n++) {
      if (best === -1 || Math.abs(i - hint) < Math.abs(best - hint)) best = i;
      if (i > hint) break;
    }
    return best;
  }
  function place() {
    // Over the textarea, in the same offset parent (so the carets others' editors draw there stay put); its
    // scrollbar narrows the text, so the copy takes the width the text has and lines break alike.
    backdrop.style.top = `${textarea.offsetTop}px`;
    backdrop.style.left = `${textarea.offsetLeft}px`;
    backdrop.style.width = `${textarea.clientWidth}px`;
    backdrop.style.height = `${textarea.clientHeight}px`;
  }
  function ensureBackdrop() {
    if (backdrop) return backdrop;
    backdrop = document.createElement("div");
    backdrop.className = "marks-backdrop prose-editor";
    backdrop.setAttribute("aria-hidden", "true");
    backdrop.dataset.marks = "";
    textarea.before(backdrop);
    textarea.addEventListener("scroll", () => { backdrop.scrollTop = textarea.scrollTop; });
    const observer = new ResizeObserver(place);
    observer.observe(textarea);
    observer.observe(textarea.form || textarea.parentElement);  // something above it opened or closed
    return backdrop;
  }
  function draw() {
    cancelAnimationFrame(drawing);
    drawing = requestAnimationFrame(() => {
      if (!marks.length && !backdrop) return;
      const value = textarea.value;
      const spans = [];
      for (const mark of marks) {
        const at = nearest(value, mark.quote, mark.at);
        if (at === -1) continue;
        mark.at = at;
        spans.push([at, at + mark.quote.length, mark.kind]);
      }
      spans.sort((a, b) => a[0] - b[0]);
      const layer = ensureBackdrop();
      const parts = [];
      let done = 0;
      for (const [start, end, kind] of spans) {
        if (start < done) continue;  // overlapping passages: the first is marked
        parts.push(document.createTextNode(value.slice(done, start)));
        const mark = document.createElement("mark");
        mark.className = `editor-mark ${kind}`;
        mark.textContent = value.slice(start, end);
        parts.push(mark);
        done = end;
      }
      parts.push(document.createTextNode(value.slice(done) + "\n"));  // a last empty line lays out as the textarea's
      layer.replaceChildren(...parts);
      layer.hidden = textarea.hidden;
      place();
      layer.scrollTop = textarea.scrollTop;
    });
  }
  textarea.addEventListener("input", draw);
  new MutationObserver(draw).observe(textarea, { attributes: true, attributeFilter: ["hidden"] });
  let panel = document.querySelector("#review-panel");
  document.body.addEventListener("htmx:afterSettle", () => {
    const now = document.querySelector("#review-panel");
    if (now !== panel) { panel = now; collectMarks(); }  // a new panel: its passages may have changed
  });
  document.addEventListener("cowrite:ready", () => {
    collectMarks();
    window.storyCowrite.ytext.observe(draw);  // others' typing changes the text without an input event
  });
  collectMarks();

  // An accepted suggestion changed the stored chapter: show it, unless this page holds typing not yet saved.
  document.body.addEventListener("chapter-changed", () => {
    const status = document.querySelector("[data-save-status]");
    if (!window.storyCowrite && (!status || status.dataset.state === "saved")) window.location.reload();
  });
})();
