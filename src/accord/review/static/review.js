// Keyboard shortcuts, saving without losing typed text, and alignment progress. The pages work without it.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
const typing = (el) => el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "radio")
  || el.tagName === "SELECT");

function follow(id) {
  const link = document.getElementById(id);
  if (link) window.location.href = link.href;
}

function setupFeedback(form) {
  const traceId = document.querySelector(".review").dataset.trace;
  const draftKey = "accord-draft:" + traceId;
  const status = document.getElementById("save-status");
  const rationale = document.getElementById("rationale");

  // a draft survives a failed save and a reload
  const draft = JSON.parse(sessionStorage.getItem(draftKey) || "null");
  if (draft) {
    if (!rationale.value) rationale.value = draft.rationale || "";
    const radio = form.querySelector(`input[type=radio][value="${CSS.escape(draft.value || "")}"]`);
    if (radio && !form.querySelector("input[type=radio]:checked")) radio.checked = true;
    const input = document.getElementById("value-input") || (radio ? null : document.getElementById("value-other"));
    if (input && !input.value) input.value = draft.value || "";
  }
  const saveDraft = () => {
    const data = new FormData(form);
    sessionStorage.setItem(draftKey, JSON.stringify({value: data.get("value") || data.get("value_other"), rationale: data.get("rationale")}));
  };
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);

  let nudged = false;  // a reason is asked for once when the expert disagrees with the judge; a second save goes
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (!data.get("value") && !data.get("value_other")) { status.textContent = "Choose a value first."; status.className = "status error"; return; }
    const judgeSays = form.dataset.judgeSays || "";
    const value = data.get("value") || data.get("value_other") || "";
    if (judgeSays && value !== judgeSays && !(data.get("rationale") || "").trim() && !nudged) {
      nudged = true;
      status.textContent = `You disagree with the judge (it says ${judgeSays}): a reason teaches it most. Add one, or save again without.`;
      status.className = "status nudge";
      rationale.focus();
      return;
    }
    status.textContent = "Saving…"; status.className = "status";
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new URLSearchParams(data),
        headers: {"Accept": "application/json", "X-CSRF-Token": csrf()},
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || body.detail || `the server answered ${response.status}`);
      sessionStorage.removeItem(draftKey);
      status.textContent = "Saved."; status.className = "status ok";
      window.location.href = body.next;
    } catch (error) {
      saveDraft();
      status.textContent = `Not saved: ${error.message}. Your text is kept; try again.`;
      status.className = "status error";
    }
  });

  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault(); form.requestSubmit(); return;
    }
    if (typing(document.activeElement)) {
      if (event.key === "Escape") document.activeElement.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const radios = [...form.querySelectorAll("input[type=radio]")];
    const byNumber = radios.find((r) => r.dataset.key === event.key);
    const yesNo = {y: ["true", "yes"], n: ["false", "no"]}[event.key];
    const byLetter = yesNo && radios.find((r) => yesNo.includes(r.value.toLowerCase()));
    if (byNumber || byLetter) { (byNumber || byLetter).checked = true; saveDraft(); event.preventDefault(); return; }
    if (event.key === "r") { event.preventDefault(); rationale.focus(); }
    else if (event.key === "j" || event.key === "ArrowRight") follow("next");
    else if (event.key === "k" || event.key === "ArrowLeft") follow("back");
    else if (event.key === "Enter") form.requestSubmit();
  });
}

function setupQueue(table) {
  document.addEventListener("keydown", (event) => {
    if (typing(document.activeElement) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter" || event.key === "j") {
      const first = table.querySelector("tr.todo a.open") || table.querySelector("a.open");
      if (first) window.location.href = first.href;
    }
  });
}

function setupJob(box) {
  const bar = document.getElementById("job-progress");
  const form = document.getElementById("align-form");
  const poll = async () => {
    const job = await (await fetch(box.dataset.url, {headers: {"Accept": "application/json"}})).json();
    if (job.state === "none") return;
    const line = document.createElement("p");
    line.textContent = `${job.state}: ${job.stage}` + (job.total ? ` (${job.done}/${job.total})` : "") + ` · ${job.seconds} s`;
    box.replaceChildren(line);
    if (job.error) { const p = document.createElement("p"); p.className = "warn-text"; p.textContent = job.error; box.append(p); }
    if (job.state === "running" || job.state === "queued") {
      bar.hidden = false; bar.max = job.total || 1; bar.value = job.done;
      setTimeout(poll, 1000);
    } else if (job.state === "done" && box.dataset.state !== "done") {
      window.location.reload();
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    document.getElementById("align").disabled = true;
    await fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
      headers: {"Accept": "application/json", "X-CSRF-Token": csrf()}});
    box.dataset.state = "running";
    poll();
  });
  if (box.dataset.state === "running" || box.dataset.state === "queued") poll();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("feedback");
  if (form) setupFeedback(form);
  const table = document.getElementById("queue");
  if (table) setupQueue(table);
  const job = document.getElementById("job");
  if (job) setupJob(job);
});
