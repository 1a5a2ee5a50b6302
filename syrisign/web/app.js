// SyriSign page: asks this server only (no external resource), one panel per method.
"use strict";

const TITLES = {
  retrieval: "الاسترجاع — إشارات مسجّلة",
  generative: "التوليد — T2M-GPT",
  motionclip: "MotionCLIP",
  all: "كل الطرق جنبًا إلى جنب (كاميرا واحدة)",
};
const PHONE = "(max-width: 600px)";  // a phone gets the portrait video: the hand close-ups in a row below the signer
const KINDS = {
  lexicon: "إشارة من المعجم",
  number: "رقم بالإشارة",
  fuzzy: "أقرب إشارة",
  fingerspell: "تهجئة بالأصابع",
  substituted: "تهجئة مع استبدال حرف",
  skipped: "لم تُترجم",
};
const LANGS = { jos: "الأردنية (jos) أولًا", sdl: "‏KArSL ‏(sdl) أولًا" };

const $ = (sel, root = document) => root.querySelector(sel);
let info = null;

function setStatus(text, isError = false) {
  const el = $("#status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

async function errorMessage(resp) {
  try {
    const body = await resp.json();
    return body.message || body.error || `HTTP ${resp.status}`;
  } catch (e) {
    return `HTTP ${resp.status}`;
  }
}

async function post(body) {
  const resp = await fetch("/v1/translate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!resp.ok) throw new Error(await errorMessage(resp));
  return resp;
}

function availableMethods() {
  if (!info) return ["retrieval"];
  return Object.entries(info.methods).filter(([, v]) => v.available).map(([m]) => m);
}

async function loadInfo() {
  try {
    const resp = await fetch("/v1/info");
    info = await resp.json();
  } catch (e) {
    setStatus("تعذّر الاتصال بالخادم.", true);
    return;
  }
  $("#max").textContent = info.limits.max_chars;
  $("#text").maxLength = info.limits.max_chars;
  const examples = $("#examples");
  examples.textContent = "";
  for (const ex of info.examples || []) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = ex;
    b.addEventListener("click", () => { $("#text").value = ex; updateCount(); });
    examples.appendChild(b);
  }
  for (const input of document.querySelectorAll('input[name="method"]')) {
    const m = info.methods[input.value];
    if (input.value !== "all" && m && !m.available) {
      input.disabled = true;
      input.parentElement.classList.add("unavailable");
      input.parentElement.title = m.reason;
    }
  }
  const select = $("#signed");
  for (const code of info.signed_languages || []) {
    const o = document.createElement("option");
    o.value = code;
    o.textContent = LANGS[code] || code;
    select.appendChild(o);
  }
  if (info.status !== "ready") {
    setStatus(info.status === "loading" ? "الخادم يحمّل المعجم والنماذج… أعد المحاولة بعد لحظات."
                                        : "تعذّر تحميل الخادم: " + info.message, info.status !== "loading");
    if (info.status === "loading") setTimeout(loadInfo, 3000);
  }
}

function updateCount() {
  $("#count").textContent = $("#text").value.length;
}

function kindCell(kind) {
  const span = document.createElement("span");
  span.className = `kind kind-${kind}`;
  span.textContent = KINDS[kind] || kind;
  return span;
}

function fillPlan(panel, data, method) {
  const plan = data.plan;
  const tbody = $("tbody", panel);
  tbody.textContent = "";
  const rows = new Map();
  for (const it of plan.items) {
    const tr = document.createElement("tr");
    tr.className = it.kind === "skipped" ? "skipped" : "";
    tr.dataset.item = it.index;
    const word = document.createElement("td");
    word.className = "word";
    word.textContent = it.text;
    const how = document.createElement("td");
    how.appendChild(kindCell(it.kind));
    const signs = document.createElement("td");
    signs.textContent = it.kind === "fingerspell" || it.kind === "substituted" ? it.signs.join("-") : it.signs.join(" ");
    const note = document.createElement("td");
    note.className = "note";
    note.textContent = [it.english, it.note].filter(Boolean).join(" · ");
    if (["fingerspell", "substituted", "skipped", "fuzzy"].includes(it.kind) && info && info.contributions
        && info.contributions.enabled && it.text.trim()) {
      // a word without its own recording: whoever signs it can add it
      const a = document.createElement("a");
      a.className = "record";
      a.href = `/contribute?word=${encodeURIComponent(it.text)}`;
      a.textContent = "سجّل إشارتها";
      note.appendChild(a);
    }
    tr.append(word, how, signs, note);
    tbody.appendChild(tr);
    rows.set(it.index, tr);
  }
  const c = plan.counts;
  const spelled = (c.fingerspell || 0) + (c.substituted || 0);
  $(".coverage", panel).textContent =
    `التغطية: ${plan.coverage}% من ${plan.content_tokens} كلمة بإشارات مسجّلة — ` +
    `من المعجم ${c.lexicon}، أرقام ${c.number}، تقريبية ${c.fuzzy}، مُهجّاة ${spelled}، متروكة ${c.skipped}`;
  $(".translation", panel).textContent = plan.translation || "";
  const out = data.outputs[method] || Object.values(data.outputs)[0];
  const video = $("video", panel);
  if (out) {
    const fps = data.fps || out.fps || 25;
    video.addEventListener("timeupdate", () => {
      const frame = video.currentTime * fps;
      const seg = out.segments.find((s) => frame >= s.start && frame < s.end);
      for (const [index, tr] of rows) tr.classList.toggle("current", !!seg && seg.item === index);
    });
  }
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function runPanel(panel, method, request) {
  const status = $(".panel-status", panel);
  const say = (text, isError = false) => { status.textContent = text; status.classList.toggle("error", isError); };
  say("جارٍ إعداد خطة الإشارات…");
  let data;
  try {
    const resp = await post({ ...request, method, format: "json", landmarks: false });
    data = await resp.json();
  } catch (e) {
    say(e.message, true);
    $(".downloads", panel).hidden = true;
    $(".plan", panel).hidden = true;
    return false;
  }
  fillPlan(panel, data, method);
  const failed = Object.entries(data.errors || {}).map(([m, e]) => `${TITLES[m] || m}: ${e}`);
  say("جارٍ رسم الفيديو…");
  const video = $("video", panel);
  const blobs = {};
  try {
    const resp = await post({ ...request, method, format: "mp4" });
    blobs.mp4 = await resp.blob();
  } catch (e) {
    say(e.message, true);
    return false;
  }
  video.src = URL.createObjectURL(blobs.mp4);
  video.play().catch(() => {});
  const frames = Object.values(data.outputs).map((o) => o.frames);
  say([`${Math.max(...frames)} إطارًا بمعدّل ${data.fps} إطار/ث`, ...failed].join(" — "), failed.length > 0);
  if (method === "all") $('.downloads button[data-format="pose"]', panel).hidden = true;  // one method per .pose
  for (const b of panel.querySelectorAll(".downloads button")) {
    b.addEventListener("click", async () => {
      const fmt = b.dataset.format;
      try {
        if (!blobs[fmt]) blobs[fmt] = await (await post({ ...request, method, format: fmt })).blob();
        download(blobs[fmt], `syrisign-${method}.${fmt}`);
      } catch (e) {
        say(e.message, true);
      }
    });
  }
  return true;
}

async function submit(event) {
  event.preventDefault();
  const text = $("#text").value.trim();
  if (!text) {
    setStatus("اكتب نصًا عربيًا أولًا.", true);
    return;
  }
  const choice = document.querySelector('input[name="method"]:checked').value;
  // "all": one video of every method side by side under one camera (the server draws it), one plan
  const methods = [choice];
  const request = { text, fps: 25, insets: $("#insets").checked,
                    layout: window.matchMedia(PHONE).matches ? "portrait" : "square" };
  const signed = $("#signed").value;
  if (signed) request.signed = signed;
  const results = $("#results");
  results.textContent = "";
  const tpl = $("#panel-template");
  const button = $("#submit");
  button.disabled = true;
  setStatus("جارٍ الترجمة…");
  const runs = methods.map((m) => {
    const panel = tpl.content.firstElementChild.cloneNode(true);
    panel.dataset.method = m;
    panel.classList.toggle("wide", m === "all" && availableMethods().length > 1);
    $(".panel-title", panel).textContent = TITLES[m] || m;
    results.appendChild(panel);
    return runPanel(panel, m, request);
  });
  const ok = await Promise.all(runs);
  button.disabled = false;
  const n = ok.filter(Boolean).length;
  setStatus(n === methods.length ? "تمّت الترجمة." : "تعذّرت الترجمة.", n === 0);
}

document.addEventListener("DOMContentLoaded", async () => {
  $("#form").addEventListener("submit", submit);
  $("#text").addEventListener("input", updateCount);
  await loadInfo();
  const text = new URLSearchParams(location.search).get("text");  // /?text=... (the contribute page links here)
  if (text && info && info.status === "ready") {
    $("#text").value = text;
    updateCount();
    $("#form").requestSubmit();
  }
});
