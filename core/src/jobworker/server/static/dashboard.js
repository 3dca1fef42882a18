// Live updates for the dashboard: every element with data-events listens to that event stream.
"use strict";
function setField(root, name, value) {
  root.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) { el.textContent = value; });
}
function onBatch(root, b) {
  var done = b.completed_jobs + b.failed_jobs;
  var bar = root.querySelector("progress");
  if (bar) { bar.max = b.total_jobs || 1; bar.value = done; }
  setField(root, "status", b.status);
  setField(root, "done", done);
  setField(root, "total_jobs", b.total_jobs);
  setField(root, "failed_jobs", b.failed_jobs);
}
function onJob(root, j) {
  var p = j.progress || {percent: 0, step: "", message: ""};
  var bar = root.querySelector("progress");
  if (bar) { bar.value = p.percent; }
  setField(root, "status", j.status + (j.cancel_requested && j.status === "processing" ? " (cancel requested)" : ""));
  setField(root, "percent", p.percent);
  setField(root, "step", p.step || "");
  setField(root, "message", p.message || "");
  var err = root.querySelector('[data-field="error"]');
  if (err && j.error) { err.hidden = false; err.textContent = "Error: " + j.error.code + ": " + j.error.message; }
  if (j.status === "completed" || j.status === "failed") {
    root.querySelectorAll("#cancel").forEach(function (b) { b.disabled = true; });
  }
}
function onLog(entry) {
  var list = document.getElementById("logs");
  if (!list) { return; }
  var item = document.createElement("li");
  item.textContent = entry.timestamp + " " + entry.level + ": " + entry.message;
  list.appendChild(item);
}
function onFleet(root, f) {
  (f.workers || []).forEach(function (w) {
    var row = document.getElementById("worker-" + w.worker_id);
    if (row) {
      setField(row, "state", w.state);
      setField(row, "running", w.running);
      setField(row, "processed", w.processed);
      setField(row, "failed", w.failed);
    }
  });
  if (!f.counts) { return; }
  Object.keys(f.counts).forEach(function (k) {
    root.querySelectorAll('[data-count="' + k + '"]').forEach(function (el) { el.textContent = f.counts[k]; });
  });
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-events]").forEach(function (root) {
    var source = new EventSource(root.getAttribute("data-events"));
    source.addEventListener("batch", function (e) { onBatch(root, JSON.parse(e.data)); });
    source.addEventListener("job", function (e) { onJob(root, JSON.parse(e.data)); });
    source.addEventListener("log", function (e) { onLog(JSON.parse(e.data)); });
    source.addEventListener("fleet", function (e) { onFleet(root, JSON.parse(e.data)); });
    source.addEventListener("end", function () { source.close(); });
  });
});
