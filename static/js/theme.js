// Loaded before the page paints (not deferred), so a dark theme never flashes light.
document.documentElement.dataset.theme = localStorage.getItem("theme") || "auto";
