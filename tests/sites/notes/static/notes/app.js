// The page's own API call, with a cache-busting timestamp as real sites have.
document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live-count");
  if (!live) return;
  fetch("/api/notes/?_=" + Date.now(), { headers: { "Accept": "application/json" } })
    .then((r) => r.json())
    .then((data) => { live.textContent = String(data.count); });
});
