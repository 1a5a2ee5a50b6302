// SyriSign contribute page: record (getUserMedia + MediaRecorder) or upload one sign, let the server extract and
// check it (POST /v1/contributions, then poll), show the recording beside its skeleton, and add it on confirmation.
// Talks to this server only.
"use strict";

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = "syrisign-token";
const COUNTDOWN = 3;
const STAGES = {
  queued: "في الانتظار", decoding: "قراءة الفيديو", extracting: "استخراج الهيكل العظمي",
  checking: "فحص التسجيل", ready: "جاهز للمراجعة", failed: "تعذّر", added: "أُضيف",
};
// each check in Arabic, from its name and value (the server's English sentence is kept as the title)
const CHECKS = {
  person: (c) => c.ok ? "يظهر شخص في الصورة" :
    `لا يظهر شخص في ${pct(1 - c.value)} من الإطارات: قف أمام الكاميرا بحيث يظهر الوجه واليدان في إضاءة جيدة`,
  duration: (c) => c.ok ? `مدة الإشارة ${sec(c.value)}` :
    (c.value < 0.4 ? `مدة الإشارة ${sec(c.value)} فقط (0.4 ث على الأقل): أدِّ الإشارة كاملة، وابدأ وانتهِ ويداك إلى الأسفل`
                   : `مدة الإشارة ${sec(c.value)} (6 ث على الأكثر): سجّل إشارة واحدة`),
  hands: (c) => c.ok ? `اليدان ظاهرتان في ${pct(c.value)} من إطارات الإشارة` :
    `اليدان ظاهرتان في ${pct(c.value)} فقط من إطارات الإشارة (80٪ على الأقل): أبقِ اليدين داخل الصورة ولا تسرع كثيرًا`,
  near_copy: (c) => c.warning ? "تنبيه: التسجيل قريب جدًا من إشارة موجودة لكلمة أخرى، تأكّد أنه إشارة هذه الكلمة"
                              : "ليس نسخة من إشارة كلمة أخرى",
};
const ERRORS = {
  token_required: "أدخل رمز المساهم.", wrong_token: "رمز المساهم غير صحيح.",
  writes_off: "الإضافة معطّلة على هذا الخادم.", file_too_large: "الفيديو أكبر من المسموح: سجّل إشارة واحدة.",
  too_long: "الفيديو أطول من المسموح: سجّل إشارة واحدة.", not_a_video: "الملف ليس فيديو ولا GIF.",
  empty_file: "الملف فارغ.", corrupt_video: "تعذّرت قراءة الفيديو: الملف تالف.", word_required: "اكتب الكلمة أولًا.",
  bad_word: "الكلمة يجب أن تكون عربية (80 حرفًا على الأكثر).", busy: "الخادم مشغول، أعد المحاولة بعد دقيقة.",
  no_person: "لم يُعثر على شخص في الفيديو.",
};

let info = null;
let stream = null;
let recorder = null;
let clip = null;      // {blob, name, gif}
let current = null;   // the contribution being reviewed
let stopTimer = null;

function pct(v) { return `${Math.round(100 * (v || 0))}٪`; }
function sec(v) { return `${(v || 0).toFixed(1)} ث`; }

function setStatus(text, isError = false) {
  const el = $("#status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

function token() { return $("#token").value.trim(); }

function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

async function failure(resp) {
  try {
    const body = await resp.json();
    return new Error(ERRORS[body.error] ? `${ERRORS[body.error]} (${body.message})` : body.message || body.error);
  } catch (e) {
    return new Error(`HTTP ${resp.status}`);
  }
}

// -- camera --------------------------------------------------------------------------------------------------
async function startCamera() {
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    setStatus("هذا المتصفح لا يسجّل من الكاميرا: ارفع فيديو بدلًا من ذلك.", true);
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) {
    setStatus(`تعذّر تشغيل الكاميرا (${e.name}): اسمح للصفحة باستعمالها أو ارفع فيديو.`, true);
    return;
  }
  const live = $("#live");
  live.srcObject = stream;
  live.hidden = false;
  await live.play().catch(() => {});
  $("#record").disabled = false;
  $("#camera").disabled = true;
  setStatus("الكاميرا تعمل. اضغط «ابدأ التسجيل».");
}

function mimeType() {
  for (const t of ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm", "video/mp4"]) {
    if (MediaRecorder.isTypeSupported(t)) return t;
  }
  return "";
}

async function countdown() {
  const el = $("#countdown");
  el.hidden = false;
  for (let i = COUNTDOWN; i > 0; i--) {
    el.textContent = String(i);
    await new Promise((r) => setTimeout(r, 1000));
  }
  el.textContent = "●";
}

async function record() {
  $("#record").disabled = true;
  $("#retake").disabled = true;
  await countdown();
  const type = mimeType();
  recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
  const chunks = [];
  recorder.ondataavailable = (e) => { if (e.data && e.data.size) chunks.push(e.data); };
  recorder.onstop = () => {
    clearTimeout(stopTimer);
    $("#countdown").hidden = true;
    const blob = new Blob(chunks, { type: recorder.mimeType || "video/webm" });
    setClip(blob, blob.type.includes("mp4") ? "recording.mp4" : "recording.webm", false);
    $("#stop").disabled = true;
    $("#retake").disabled = false;
    setStatus(`سُجّل ${(blob.size / 1024).toFixed(0)} ك.ب. اضغط «افحص التسجيل» أو أعد التسجيل.`);
  };
  recorder.start(250);
  $("#stop").disabled = false;
  setStatus("جارٍ التسجيل… أدِّ الإشارة.");
  const limit = info ? Math.min(info.contributions.max_upload_seconds, 6.5) : 6.5;
  stopTimer = setTimeout(stop, limit * 1000);
}

function stop() {
  if (recorder && recorder.state === "recording") recorder.stop();
}

function retake() {
  clip = null;
  $("#file").value = "";
  $("#review").hidden = true;
  record();
}

// -- the clip ----------------------------------------------------------------------------------------------------
function setClip(blob, name, gif) {
  clip = { blob, name, gif };
  const url = URL.createObjectURL(blob);
  $("#recording").hidden = gif;
  $("#recording-gif").hidden = !gif;
  if (gif) $("#recording-gif").src = url;
  else $("#recording").src = url;
  $("#review").hidden = true;
}

function pickFile() {
  const f = $("#file").files[0];
  if (!f) return;
  const gif = f.type === "image/gif" || /\.gif$/i.test(f.name);
  setClip(f, f.name, gif);
  setStatus(`الملف ${f.name} (${(f.size / 1024 / 1024).toFixed(1)} م.ب). اضغط «افحص التسجيل».`);
}

// -- check, review, confirm --------------------------------------------------------------------------------------
function rememberToken() {
  if ($("#remember").checked && token()) localStorage.setItem(TOKEN_KEY, token());
  else localStorage.removeItem(TOKEN_KEY);
}

async function check(event) {
  event.preventDefault();
  const word = $("#word").value.trim();
  if (!word) return setStatus(ERRORS.word_required, true);
  if (!clip) return setStatus("سجّل الإشارة أو ارفع فيديو أولًا.", true);
  if (!token()) return setStatus(ERRORS.token_required, true);
  rememberToken();
  const form = new FormData();
  form.append("word", word);
  form.append("english", $("#english").value.trim());
  form.append("file", clip.blob, clip.name);
  $("#check").disabled = true;
  $("#review").hidden = true;
  const bar = $("#progress");
  bar.hidden = false;
  bar.value = 0;
  setStatus("جارٍ رفع التسجيل…");
  try {
    const resp = await fetch("/v1/contributions", { method: "POST", headers: authHeaders(), body: form });
    if (!resp.ok) throw await failure(resp);
    const { id } = await resp.json();
    current = await poll(id);
    await review(current);
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    $("#check").disabled = false;
    bar.hidden = true;
  }
}

async function poll(id) {
  for (;;) {
    const resp = await fetch(`/v1/contributions/${id}`, { headers: authHeaders() });
    if (!resp.ok) throw await failure(resp);
    const c = await resp.json();
    $("#progress").value = c.progress;
    setStatus(`${STAGES[c.status] || c.status}… ${Math.round(100 * c.progress)}٪`);
    if (c.status === "failed") {
      const e = c.error || {};
      throw new Error(ERRORS[e.error] ? `${ERRORS[e.error]} (${e.message})` : e.message || "تعذّر فحص التسجيل");
    }
    if (c.status === "ready" || c.status === "added") return c;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function showChecks(c) {
  const ul = $("#checks");
  ul.textContent = "";
  for (const ch of c.checks) {
    const li = document.createElement("li");
    li.className = ch.warning ? "warn" : ch.ok ? "ok" : "fail";
    li.dataset.check = ch.name;
    li.title = ch.message;
    const text = CHECKS[ch.name] ? CHECKS[ch.name](ch) : ch.message;
    li.textContent = `${ch.warning ? "⚠" : ch.ok ? "✓" : "✗"} ${text}`;
    ul.appendChild(li);
  }
  const near = (c.closest || []).map((x) => x.score !== undefined ? `${x.words} (${x.score.toFixed(2)})`
                                                                   : `${x.words} (${x.distance.toFixed(2)})`);
  $("#closest").textContent = near.length ? `أقرب الإشارات الموجودة: ${near.join("، ")}` : "";
}

async function review(c) {
  showChecks(c);
  $("#review").hidden = false;
  $("#try").hidden = true;
  const confirm = $("#confirm");
  confirm.disabled = !c.ok;
  setStatus(c.ok ? `نجح الفحص (${c.signing_seconds} ث من الإشارة). راجع الهيكل ثم اضغط «أضف الإشارة إلى المعجم».`
                 : "لم ينجح الفحص: اقرأ السبب وأعد التسجيل.", !c.ok);
  const resp = await fetch(`/v1/contributions/${c.id}/preview`, { headers: authHeaders() });
  if (resp.ok) {
    const v = $("#skeleton");
    v.src = URL.createObjectURL(await resp.blob());
    v.play().catch(() => {});
    const r = $("#recording");
    if (!r.hidden) r.play().catch(() => {});
  }
}

async function confirmAdd() {
  if (!current) return;
  $("#confirm").disabled = true;
  setStatus("جارٍ إضافة الإشارة…");
  try {
    const resp = await fetch(`/v1/contributions/${current.id}/confirm`, { method: "POST", headers: authHeaders() });
    if (!resp.ok) throw await failure(resp);
    const body = await resp.json();
    const entry = body.entry;
    setStatus(`أُضيفت إشارة «${entry.words}» إلى معجم المجتمع (${entry.added_by}).`);
    const a = $("#try");
    a.href = `/?text=${encodeURIComponent(entry.words)}`;
    a.hidden = false;
  } catch (e) {
    setStatus(e.message, true);
    $("#confirm").disabled = false;
  }
}

async function loadInfo() {
  try {
    info = await (await fetch("/v1/info")).json();
  } catch (e) {
    setStatus("تعذّر الاتصال بالخادم.", true);
    return;
  }
  const c = info.contributions || {};
  $("#writes-off").hidden = !!c.enabled;
  $("#check").disabled = !c.enabled;
  $("#max-seconds").textContent = "6";
}

document.addEventListener("DOMContentLoaded", () => {
  const params = new URLSearchParams(location.search);
  if (params.get("word")) $("#word").value = params.get("word");
  const saved = localStorage.getItem(TOKEN_KEY);
  if (saved) { $("#token").value = saved; $("#remember").checked = true; }
  $("#cform").addEventListener("submit", check);
  $("#camera").addEventListener("click", startCamera);
  $("#record").addEventListener("click", record);
  $("#stop").addEventListener("click", stop);
  $("#retake").addEventListener("click", retake);
  $("#file").addEventListener("change", pickFile);
  $("#confirm").addEventListener("click", confirmAdd);
  loadInfo();
});
