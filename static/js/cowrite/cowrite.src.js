// Writing a chapter together. The editor's textarea is bound to the chapter's Yjs document (y-textarea); the
// document syncs with the server over the y-websocket protocol (stories/consumers.py), which stores it and saves it
// as the chapter's text with a revision when the typing pauses. Presence: each editor's name, colour and caret.
// Until the first sync the textarea is read-only, so nothing typed can be lost or doubled. The same socket brings
// news about the story: who is in which of its chapters (shown in the chapter list) and when this chapter's
// comments or suggestions changed (the review panel reloads).
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { TextAreaBinding } from "y-textarea";
import * as decoding from "lib0/decoding";

const STORY_NEWS = 100; // stories/consumers.py

const form = document.querySelector("[data-cowrite]");
if (form) start(form);

function colourOf(seed) {
  // A steady colour per person, readable on light and dark themes.
  let hash = 0;
  for (const ch of seed) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  const hue = hash % 360;
  const k = (n) => (n + hue / 30) % 12;
  const f = (n) => 0.45 - 0.35 * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  return { r: Math.round(255 * f(0)), g: Math.round(255 * f(8)), b: Math.round(255 * f(4)) };
}

function start(form) {
  const textarea = form.querySelector("textarea[name=content]");
  const status = form.querySelector("[data-save-status]");
  const presence = document.querySelector("[data-presence]");
  const writes = form.dataset.cowrite === "write";
  const doc = new Y.Doc();
  const ytext = doc.getText("text");
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const base = `${scheme}://${window.location.host}/ws/stories/${form.dataset.story}/chapters`;
  // resyncInterval: every 5 s the browser asks for anything it missed (an update lost on the way is sent again).
  const provider = new WebsocketProvider(base, form.dataset.chapter, doc, { maxBackoffTime: 5000, resyncInterval: 5000 });
  const name = form.dataset.me || "Someone";
  const color = colourOf(name);
  provider.awareness.setLocalStateField("user", { name, color });
  window.storyCowrite = { doc, provider, ytext };

  textarea.readOnly = true;
  let binding = null;
  const setStatus = (state, text) => { if (status) { status.dataset.state = state; status.textContent = text; } };
  setStatus("saving", "Connecting…");

  provider.on("sync", (synced) => {
    if (synced && !binding) {
      binding = new TextAreaBinding(ytext, textarea, { awareness: provider.awareness, clientName: name, color });
      textarea.readOnly = !writes;
      form.dispatchEvent(new CustomEvent("cowrite:ready", { bubbles: true }));
    }
  });
  provider.on("status", ({ status: state }) => {
    if (state === "connected") setStatus("saved", writes ? "Writing together · saved as you type" : "Live");
    else setStatus("offline", writes ? "Offline · keep writing; your words merge when the connection is back" : "Offline · reconnecting…");
  });
  provider.on("connection-close", (event) => {
    if (event && event.code === 4404) {  // access removed or changed: the page asks again
      provider.disconnect();
      setStatus("error", "Your access to this story changed. Reload the page.");
      textarea.readOnly = true;
    }
  });

  const words = () => (ytext.toString().match(/[\p{L}\p{N}_]+(?:['’-][\p{L}\p{N}_]+)*/gu) || []).length;
  const counter = form.querySelector("[data-live-chapter-words]");
  ytext.observe(() => { if (counter) counter.textContent = words().toLocaleString(); });

  function showPresence() {
    if (!presence) return;
    const people = [];
    provider.awareness.getStates().forEach((state, id) => {
      if (id !== provider.awareness.clientID && state.user) people.push(state.user);
    });
    presence.replaceChildren(...people.map((person) => {
      const chip = document.createElement("span");
      chip.className = "presence-chip";
      chip.textContent = person.name;
      const c = person.color || { r: 45, g: 80, b: 237 };
      chip.style.borderColor = `rgb(${c.r}, ${c.g}, ${c.b})`;
      chip.dataset.person = person.name;
      return chip;
    }));
    presence.hidden = people.length === 0;
  }
  provider.awareness.on("change", showPresence);

  let people = [];
  provider.messageHandlers[STORY_NEWS] = (_encoder, decoder) => {
    const news = JSON.parse(decoding.readVarString(decoder));
    if (news.presence) {
      people = news.presence;
      showWhoIsWhere();
    }
    if (news.review) document.body.dispatchEvent(new CustomEvent("review-refresh"));
  };

  // Beside each chapter in the list: the others who have it open (the list is redrawn when chapters move).
  function showWhoIsWhere() {
    document.querySelectorAll(".chapter-item[data-id]").forEach((item) => {
      const here = people.filter((p) => String(p.chapter) === item.dataset.id && p.user !== form.dataset.meId);
      let spot = item.querySelector("[data-chapter-presence]");
      if (!spot) {
        spot = document.createElement("span");
        spot.className = "chapter-presence";
        spot.dataset.chapterPresence = "";
        item.querySelector(".chapter-link")?.after(spot);
      }
      spot.replaceChildren(...here.map((person) => {
        const dot = document.createElement("span");
        const c = colourOf(person.name);
        dot.className = "presence-dot";
        dot.textContent = (person.name.trim()[0] || "?").toUpperCase();
        dot.title = `${person.name} is here`;
        dot.style.backgroundColor = `rgb(${c.r}, ${c.g}, ${c.b})`;
        return dot;
      }));
      spot.hidden = here.length === 0;
      spot.setAttribute("aria-label", here.map((p) => p.name).join(", ") + (here.length ? " here" : ""));
    });
  }
  document.body.addEventListener("htmx:afterSwap", showWhoIsWhere);
}
