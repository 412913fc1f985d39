// Theme: follows the system until the writer picks one; the choice is kept in this browser.
(function () {
  const root = document.documentElement;
  const saved = localStorage.getItem("theme");
  if (saved) root.dataset.theme = saved;
  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-theme-toggle]")) return;
    const dark = root.dataset.theme === "dark" ||
      (root.dataset.theme === "auto" && matchMedia("(prefers-color-scheme: dark)").matches);
    root.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("theme", root.dataset.theme);
  });
})();

// Forms that arrive over the websocket are rendered by a worker, outside any request, so they carry no CSRF
// token; give every POST form the page's token as it is submitted.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.method.toLowerCase() !== "post" || form.querySelector("[name=csrfmiddlewaretoken]")) return;
  const input = document.createElement("input");
  input.type = "hidden";
  input.name = "csrfmiddlewaretoken";
  input.value = document.querySelector("meta[name=csrf-token]").content;
  form.append(input);
}, true);

// A refused htmx request (a full queue, a limit, a missing object) replaces nothing on the page; its message is
// shown in the page's alert region (core/refusals.py sends it as the "refused" event).
document.addEventListener("refused", (event) => {
  const region = document.getElementById("refusals");
  if (!region) return;
  const message = document.createElement("p");
  message.className = "message message-error";
  message.textContent = event.detail.message;
  region.replaceChildren(message);
});
