// Chapter editor: honest autosave status, offline retries, a local safety copy, conflicts, Ctrl+S, drag to reorder.
// Saving itself is htmx on #chapter-form (hx-trigger "input delay, save"); this file only reports and retries.
(function () {
  const form = document.querySelector("[data-autosave]");
  if (!form) return;
  const textarea = form.querySelector("textarea[name=content]");
  const titleInput = form.querySelector("input[name=title]");
  const stashKey = "storyassistant:unsaved:" + form.dataset.chapter;
  const wordRe = /[\p{L}\p{N}_]+(?:['’-][\p{L}\p{N}_]+)*/gu;
  let retryTimer = null;
  let retryDelay = 2000;

  const statusEl = () => form.querySelector("[data-save-status]");
  const baseVersion = () => form.querySelector("[data-base-version]");
  function setStatus(state, text) {
    const el = statusEl();
    if (!el) return;
    el.dataset.state = state;
    el.textContent = text;
  }
  // The formatting's markup ("]{.smallcaps}") is no word, as the server counts.
  function countWords(text) { return (text.replace(/\]\{\.(?:smallcaps|underline)\}/g, "]").match(wordRe) || []).length; }
  function updateCounts() {
    const words = countWords(textarea.value);
    const others = Number(form.dataset.storyOtherWords) - Number(form.dataset.chapterSavedWords);
    form.querySelector("[data-live-chapter-words]").textContent = words.toLocaleString();
    form.querySelector("[data-live-story-words]").textContent = (others + words).toLocaleString();
  }
  function stash() {
    // A copy in this browser survives a closed tab or a crash while offline; cleared once the server has it.
    localStorage.setItem(stashKey, JSON.stringify({
      version: baseVersion().value, title: titleInput.value, text: textarea.value, at: Date.now(),
    }));
  }
  function save() { htmx.trigger(form, "save"); }
  function scheduleRetry(atLeast) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(save, Math.max(retryDelay, atLeast || 0));
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  form.addEventListener("input", () => {
    setStatus("dirty", "Unsaved changes…");
    updateCounts();
    stash();
  });
  form.addEventListener("htmx:beforeRequest", () => setStatus("saving", "Saving…"));
  form.addEventListener("htmx:afterSwap", () => {
    const state = statusEl() && statusEl().dataset.state;
    if (state === "saved") {
      retryDelay = 2000;
      form.dataset.chapterSavedWords = String(countWords(textarea.value));
      form.dataset.storyOtherWords = String(Number(document.getElementById("story-words").textContent.replace(/\D/g, "")));
      localStorage.removeItem(stashKey);
    }
  });
  form.addEventListener("htmx:sendError", () => {
    setStatus("offline", "Offline — not saved. Your text is kept here; retrying…");
    scheduleRetry();
  });
  form.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status === 413) {  // too large to ever be accepted: retrying would not help
      setStatus("error", "Not saved — " + xhr.responseText);
      return;
    }
    const busy = xhr.status === 503 || xhr.status === 429;
    setStatus("error", busy ? "Not saved — the server is busy. Retrying…" : "Not saved — the server had a problem. Retrying…");
    scheduleRetry(1000 * (Number(xhr.getResponseHeader("Retry-After")) || 0));
  });
  window.addEventListener("online", save);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    }
  });
  window.addEventListener("beforeunload", (event) => {
    const state = statusEl() && statusEl().dataset.state;
    if (state && state !== "saved") event.preventDefault();
  });

  // Conflict: keep mine (save over the newer version; theirs stays in the history) or take theirs.
  form.addEventListener("click", (event) => {
    const conflict = form.querySelector("[data-conflict]");
    if (!conflict) return;
    if (event.target.closest("[data-keep-mine]")) {
      event.preventDefault();
      baseVersion().value = conflict.dataset.conflictVersion;
      save();
    } else if (event.target.closest("[data-use-theirs]")) {
      textarea.value = conflict.querySelector("[data-their-text]").value;
      baseVersion().value = conflict.dataset.conflictVersion;
      conflict.remove();
      setStatus("saved", "Showing their version (yours is in the history)");
      updateCounts();
      localStorage.removeItem(stashKey);
    }
  });

  // Asking the AI team (to write, or to check): send the cursor and selection, and save the writer's text first
  // so offsets match.
  document.querySelectorAll("[data-ai-form]").forEach((aiForm) => {
    aiForm.addEventListener("htmx:confirm", (event) => {
      aiForm.querySelector("[data-ai-cursor]").value = textarea.selectionEnd;
      aiForm.querySelector("[data-ai-selection-start]").value = textarea.selectionStart;
      aiForm.querySelector("[data-ai-selection-end]").value = textarea.selectionEnd;
      const state = statusEl() && statusEl().dataset.state;
      if (state === "saved") return;
      event.preventDefault();
      form.addEventListener("htmx:afterSwap", function resume() {
        if (statusEl().dataset.state !== "saved") return;
        form.removeEventListener("htmx:afterSwap", resume);
        event.detail.issueRequest();
      });
      save();
    });
  });

  // Text this browser could not save last time (closed while offline) is offered back, never dropped.
  const stashed = JSON.parse(localStorage.getItem(stashKey) || "null");
  if (stashed && stashed.text !== textarea.value) {
    const notice = document.createElement("div");
    notice.className = "notice warning";
    notice.setAttribute("role", "alert");
    notice.innerHTML = "<p><strong>This browser has unsaved text for this chapter</strong> from " +
      new Date(stashed.at).toLocaleString() + ".</p>";
    const restore = document.createElement("button");
    restore.type = "button";
    restore.className = "small primary";
    restore.textContent = "Restore it and save";
    restore.addEventListener("click", () => {
      textarea.value = stashed.text;
      titleInput.value = stashed.title;
      notice.remove();
      updateCounts();
      save();
    });
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "small";
    discard.textContent = "Discard it";
    discard.addEventListener("click", () => { localStorage.removeItem(stashKey); notice.remove(); });
    notice.append(restore, " ", discard);
    form.prepend(notice);
  }
  textarea.focus();
  if (textarea.dataset.selectStart) {
    // Opened from a search result: select the passage and scroll it into view.
    const start = Number(textarea.dataset.selectStart);
    textarea.setSelectionRange(start, Number(textarea.dataset.selectEnd));
    textarea.scrollTop = Math.max(0, (start / Math.max(textarea.value.length, 1)) * textarea.scrollHeight - 80);
  }
})();

// Drag a chapter in the sidebar to reorder; the hidden inputs follow the items, so the form posts the new order.
(function () {
  let dragged = null;
  document.addEventListener("dragstart", (event) => {
    dragged = event.target.closest && event.target.closest(".chapter-item");
    if (dragged) event.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragover", (event) => {
    const over = event.target.closest && event.target.closest(".chapter-item");
    if (!dragged || !over || over === dragged) return;
    event.preventDefault();
    const box = over.getBoundingClientRect();
    over.parentNode.insertBefore(dragged, event.clientY < box.top + box.height / 2 ? over : over.nextSibling);
  });
  document.addEventListener("drop", (event) => {
    if (!dragged) return;
    event.preventDefault();
    const list = dragged.closest("[data-reorder]");
    dragged = null;
    htmx.trigger(document.querySelector(list.dataset.reorder), "submit");
  });
})();

// Grammar and style suggestions: select a passage in the text, apply a fix (autosave keeps a revision), or skip.
// The server counts offsets in code points; the textarea counts UTF-16 units, so an emoji shifts them apart.
(function () {
  const textarea = document.querySelector("#chapter-form textarea[name=content]");
  const mirror = document.querySelector("[data-grammar-content]");
  if (!textarea || !mirror) return;
  const sync = () => { mirror.value = textarea.value; };
  sync();
  textarea.addEventListener("input", sync);

  function utf16Index(text, codePoints) {
    let index = 0;
    for (let n = 0; n < codePoints && index < text.length; n++) index += text.codePointAt(index) > 0xffff ? 2 : 1;
    return index;
  }
  function range(item) {
    const offset = Number(item.dataset.offset);
    return [utf16Index(textarea.value, offset), utf16Index(textarea.value, offset + Number(item.dataset.length))];
  }
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-grammar-close]")) {
      document.getElementById("grammar-panel").replaceChildren();
      return;
    }
    const item = event.target.closest("[data-grammar-match]");
    if (!item) return;
    if (event.target.closest("[data-grammar-dismiss]")) { item.remove(); return; }
    const [start, end] = range(item);
    if (textarea.value.slice(start, end) !== item.dataset.original) {
      item.querySelector("[data-grammar-state]").textContent = "The text here has changed since the check; check again.";
      return;
    }
    textarea.focus();
    const button = event.target.closest("[data-grammar-apply]");
    if (!button) { textarea.setSelectionRange(start, end); return; }
    const replacement = button.dataset.replacement;
    textarea.setRangeText(replacement, start, end, "end");
    const shift = Array.from(replacement).length - Number(item.dataset.length);
    item.parentElement.querySelectorAll("[data-grammar-match]").forEach((other) => {
      if (Number(other.dataset.offset) > Number(item.dataset.offset)) {
        other.dataset.offset = String(Number(other.dataset.offset) + shift);
      }
    });
    item.remove();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));  // autosave, word counts, the safety copy
  });
})();

// Formatting: the buttons (and Ctrl+B, Ctrl+I, Ctrl+U) put the app's Markdown around the selection, or take it
// off when it is already there; Preview shows the chapter as the exports render it, with the same parser family
// (markdown-it, loaded the first time it is asked for). Edits go through the browser's own undo.
(function () {
  const bar = document.querySelector("[data-format-bar]");
  const textarea = document.querySelector("#chapter-form textarea[name=content]");
  if (!bar || !textarea) return;
  const pane = document.querySelector("[data-preview-pane]");
  const previewButton = bar.querySelector("[data-preview]");
  const spans = { smallcaps: ["[", "]{.smallcaps}"], underline: ["[", "]{.underline}"], struck: ["~~", "~~"] };
  bar.hidden = false;

  function replace(start, end, text) {
    textarea.focus();
    textarea.setSelectionRange(start, end);
    // execCommand keeps Ctrl+Z working and fires "input" (autosave, counts); setRangeText where it is gone.
    if (!document.execCommand("insertText", false, text)) {
      textarea.setRangeText(text, start, end, "end");
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }
  function stars(value, index, step) {
    let n = 0;
    while (value[index + n * step] === "*") n++;
    return n;
  }
  function apply(kind) {
    const value = textarea.value;
    let start = textarea.selectionStart, end = textarea.selectionEnd;
    // Spaces at the ends of the selection stay outside the markers, as the app writes them.
    while (start < end && /\s/.test(value[start])) start++;
    while (end > start && /\s/.test(value[end - 1])) end--;
    const inner = value.slice(start, end);
    if (kind === "bold" || kind === "italic") {
      const around = Math.min(stars(value, start - 1, -1), stars(value, end, 1));
      const width = kind === "bold" ? 2 : 1;
      const on = kind === "bold" ? around >= 2 : around % 2 === 1;
      if (on) replace(start - width, end + width, inner);
      else replace(start, end, "*".repeat(width) + inner + "*".repeat(width));
      textarea.setSelectionRange(start + (on ? -width : width), end + (on ? -width : width));
      return;
    }
    const [open, close] = spans[kind];
    const on = value.slice(start - open.length, start) === open && value.slice(end, end + close.length) === close;
    if (on) replace(start - open.length, end + close.length, inner);
    else replace(start, end, open + inner + close);
    const shift = on ? -open.length : open.length;
    textarea.setSelectionRange(start + shift, end + shift);
  }

  let parser = null;
  function loadParser() {
    if (parser) return Promise.resolve(parser);
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = bar.dataset.markdownSrc;
      script.onload = () => {
        parser = window.markdownit("commonmark", { html: false, breaks: true }).enable("strikethrough");
        resolve(parser);
      };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }
  function render(md, text) {
    // Bracketed spans have no markdown-it rule; markers left as text after rendering become the span.
    return md.render(text).replace(/\[([^[\]\n]{1,2000})\]\{\.(smallcaps|underline)\}/g, '<span class="$2">$1</span>');
  }
  function showPreview(on) {
    previewButton.setAttribute("aria-pressed", String(on));
    previewButton.textContent = on ? "Edit" : "Preview";
    bar.querySelectorAll("[data-format]").forEach((button) => { button.disabled = on; });
    pane.hidden = !on;
    textarea.hidden = on;
    if (!on) textarea.focus();
  }

  bar.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button === previewButton) {
      if (previewButton.getAttribute("aria-pressed") === "true") { showPreview(false); return; }
      loadParser().then((md) => { pane.innerHTML = render(md, textarea.value); showPreview(true); },
        () => { pane.textContent = "The preview could not be loaded; the text is unchanged."; showPreview(true); });
      return;
    }
    if (button.dataset.format) apply(button.dataset.format);
  });
  const keys = { b: "bold", i: "italic", u: "underline" };
  textarea.addEventListener("keydown", (event) => {
    const kind = (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && keys[event.key.toLowerCase()];
    if (!kind) return;
    event.preventDefault();
    apply(kind);
  });
})();
