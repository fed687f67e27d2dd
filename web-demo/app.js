// The page: UI only. Every workspace operation is sent to the worker (worker.js), so the
// page stays responsive while a workspace is read, converted or verified.
import { renderMarkdown } from './markdown.js';

const $ = (sel) => document.querySelector(sel);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

/** What the tests (and curious people) can read: progress seen, last timings. */
const demo = (window.__demo = { ready: false, progress: [], timings: {}, errors: [] });

let nextId = 1;
const pending = new Map();
// A module worker only listens once its imports (the wasm) are loaded: messages sent
// before would be lost, so every call waits for its "ready".
let markReady;
const workerReady = new Promise((r) => (markReady = r));
worker.onmessage = (e) => {
  const m = e.data;
  if (m.ready) {
    $('#version').textContent = m.version;
    markReady();
    return;
  }
  const p = pending.get(m.id);
  if (!p) return;
  if (m.progress) return p.onProgress?.(m.progress);
  pending.delete(m.id);
  if (m.ok) p.resolve(m.result);
  else p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
};
worker.onerror = (e) => showError({ code: 'Error', message: `the worker failed: ${e.message}` });

async function rpc(type, args = {}, onProgress) {
  await workerReady;
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject, onProgress });
    worker.postMessage({ id, type, ...args });
  });
}

// ---- status, progress, errors -------------------------------------------------------

const PHASES = { converting: 'Converting', verifying: 'Checking every hash', writing: 'Saving in this browser' };
async function busy(label, f) {
  const status = $('#status');
  $('#status-text').textContent = label;
  $('#progress').removeAttribute('value');
  status.hidden = false;
  document.querySelectorAll('button').forEach((b) => (b.disabled = true));
  const onProgress = (p) => {
    demo.progress.push({ ...p, at: performance.now() });
    $('#status-text').textContent = `${label} — ${PHASES[p.phase] ?? p.phase}`;
    $('#progress').value = p.total ? p.done / p.total : 1;
  };
  try {
    return await f(onProgress);
  } finally {
    status.hidden = true;
    document.querySelectorAll('button').forEach((b) => (b.disabled = false));
  }
}

const EXPLAIN = {
  NotAWorkspace: 'This is not a Sila workspace.',
  NotAnArchive: 'This file is not a readable workspace archive: it may be cut short, damaged, or not made by sila-store.',
  Corrupt: 'The archive is damaged.',
  HashMismatch: 'A file does not match its SHA-256: the workspace was changed or damaged after it was written.',
  SizeMismatch: 'A file is not the size its archive promises: the archive is damaged.',
  UnsafePath: 'The archive holds a path that would escape the workspace folder; it was refused.',
  UnsupportedVersion: 'The archive was written by a newer version of sila-store.',
  InvalidUtf8: 'An ops file is not valid UTF-8 text.',
  DuplicateEntry: 'The archive holds the same file twice.',
};
function showError(err) {
  demo.errors.push({ code: err.code, message: err.message });
  $('#error-title').textContent = EXPLAIN[err.code] ?? `Something went wrong (${err.code}).`;
  $('#error-text').textContent = `${err.message}. Nothing stored in this browser was changed.`;
  $('#error').dataset.code = err.code;
  $('#error').hidden = false;
}
$('#error-close').onclick = () => ($('#error').hidden = true);

const fmtBytes = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`);
const fmtInt = (n) => n.toLocaleString('en-US');
const el = (tag, { dataset, ...props } = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  Object.assign(e.dataset, dataset ?? {});
  e.append(...children);
  return e;
};

// ---- the list of stored workspaces ---------------------------------------------------

let current = null;
async function refreshList() {
  const list = await rpc('list');
  const ul = $('#stored');
  ul.replaceChildren();
  if (!list.length) ul.append(el('li', { className: 'muted' }, 'nothing yet'));
  for (const w of list) {
    const li = el('li', { className: w.dir === current ? 'active' : '' });
    li.dataset.dir = w.dir;
    if (w.error) li.append(el('div', {}, w.dir), el('div', { className: 'meta' }, `${w.error.code}: ${w.error.message}`));
    else {
      li.append(
        el('div', {}, w.info.spaceName ?? w.info.spaceId),
        el('div', { className: 'meta' }, `${fmtInt(w.info.ops)} ops · ${fmtInt(w.info.files)} files · ${fmtBytes(w.info.totalBytes)}${w.format === 'sqlite' ? ' · archived' : ''}`),
      );
    }
    li.onclick = () => select(w.dir);
    ul.append(li);
  }
  return list;
}

// ---- one workspace ---------------------------------------------------------------

async function select(dir) {
  current = dir;
  document.querySelectorAll('#stored li').forEach((li) => li.classList.toggle('active', li.dataset.dir === dir));
  const w = await busy('Opening', (p) => rpc('open', { dir }, p));
  render(w);
  demo.opened = (demo.opened ?? 0) + 1;
}

function render(w) {
  const { info, report } = w;
  $('#welcome').hidden = true;
  $('#workspace').hidden = false;
  $('#ws-name').textContent = info.spaceName ?? '(unnamed space)';
  $('#ws-id').textContent = `space ${info.spaceId}${w.format === 'sqlite' ? ' · archived in this browser as one SQLite file' : ''}`;
  $('#archive').textContent = w.format === 'sqlite' ? 'Unarchive in browser' : 'Archive in browser';
  const stats = [
    ['Trees', fmtInt(info.trees.length)], ['Ops', fmtInt(info.ops)], ['Peers', fmtInt(info.peers)],
    ['Days', info.days.length ? `${info.days.length} (${info.days[0]} → ${info.days.at(-1)})` : '0'],
    ['Files', fmtInt(info.files)], ['Size', fmtBytes(info.totalBytes)],
    ['Blobs (CAS)', `${fmtInt(info.staticFiles)} · ${fmtBytes(info.staticBytes)}`], ['Secrets', info.hasSecrets ? 'yes (encrypted)' : 'none'],
  ];
  $('#stats').replaceChildren(...stats.map(([k, v]) => el('div', { dataset: { stat: k } }, el('dt', {}, k), el('dd', {}, v))));
  const v = $('#verify');
  v.className = report.errors.length ? 'bad' : report.warnings.length ? 'warn' : 'ok';
  v.replaceChildren(
    el('strong', {}, report.errors.length ? `Verify: ${report.errors.length} error(s)` : report.warnings.length ? `Verify: OK, ${report.warnings.length} warning(s)` : 'Verify: OK — every file matches its hash'),
    el('ul', {}, ...[...report.errors, ...report.warnings].slice(0, 12).map((p) => el('li', {}, `${p.code}: ${p.message}`))),
  );
  const tbody = $('#trees tbody');
  tbody.replaceChildren(
    ...info.trees.map((t) => {
      const tr = el('tr', {}, el('td', {}, t.name ?? el('span', { className: 'mono muted' }, t.id)), el('td', {}, t.appId ?? (t.id === info.spaceId ? 'space' : '')), el('td', { className: 'num' }, fmtInt(t.ops)));
      tr.dataset.tree = t.id;
      tr.onclick = () => showOps(t);
      return tr;
    }),
  );
  $('#ops-panel').hidden = true;
  renderChats(w);
  renderGallery(w);
}

// ---- chats, as Sila shows them ------------------------------------------------------

let opened = null;
function renderChats(w) {
  opened = w;
  const chats = w.model.chats;
  $('#chats-panel').hidden = !chats.length;
  $('#conversation').hidden = true;
  $('#search-hits').hidden = true;
  $('#chat-search').value = '';
  $('#chats').replaceChildren(
    ...chats.map((c) => {
      const li = el('li', { dataset: { tree: c.treeId } }, el('div', {}, c.title ?? '(untitled chat)'),
        el('div', { className: 'meta' }, c.hasOps ? `${c.mainBranch} message(s)${c.messages > c.mainBranch ? ` · ${c.messages - c.mainBranch} on other branches` : ''}` : 'no ops in this workspace'));
      li.onclick = () => showChat(c).catch(showError);
      return li;
    }),
  );
}

async function showChat(c, highlight) {
  document.querySelectorAll('#chats li').forEach((li) => li.classList.toggle('active', li.dataset.tree === c.treeId));
  const { chat, messages } = await rpc('chat', { dir: current, treeId: c.treeId });
  $('#conversation').hidden = false;
  $('#conversation').dataset.tree = chat.treeId;
  $('#chat-title').textContent = chat.title ?? '(untitled chat)';
  $('#chat-note').textContent = !chat.hasOps
    ? "This chat's tree has no ops in the workspace: Sila lists it but cannot open it."
    : chat.messages > chat.mainBranch
      ? `${chat.mainBranch} messages on the main branch, as Sila shows them; ${chat.messages - chat.mainBranch} more on other branches (edits and regenerations).`
      : `${chat.mainBranch} message(s).`;
  const files = opened.model.files;
  const list = $('#messages');
  list.replaceChildren();
  for (const m of messages) {
    const who = [m.role ?? 'unknown', m.model, m.createdAt?.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')].filter(Boolean).join(' · ');
    const body = el('div', { className: 'body' });
    if (m.text) body.append(renderMarkdown(m.text));
    const li = el('li', { className: `${m.role ?? ''}${m.id === highlight ? ' found' : ''}`, dataset: { id: m.id, role: m.role ?? '', text: m.text ?? '' } }, el('div', { className: 'who' }, who), body);
    if (m.files.length) {
      const box = el('div', { className: 'attachments' });
      for (const ref of m.files) {
        const f = files.find((x) => x.treeId === ref.tree && x.vertex === ref.vertex);
        const fig = el('figure', {}, el('figcaption', {}, `📎 ${f?.name ?? ref.vertex}${f && !f.present ? ' (missing)' : ''}`));
        box.append(fig);
        if (f?.present && f.hash && /^image\//.test(f.mimeType ?? '')) {
          rpc('blob', { dir: current, hash: f.hash })
            .then(({ bytes, type }) => fig.prepend(el('img', { src: URL.createObjectURL(new Blob([bytes], { type: type ?? f.mimeType })), alt: f.name ?? '' })))
            .catch(() => {});
        }
      }
      li.append(box);
    }
    list.append(li);
  }
  list.querySelector('li.found')?.scrollIntoView({ block: 'center' });
  demo.chatShown = chat.treeId;
}

let searchTimer;
$('#chat-search').oninput = (e) => {
  clearTimeout(searchTimer);
  const query = e.target.value.trim();
  searchTimer = setTimeout(async () => {
    const ul = $('#search-hits');
    if (!query) return (ul.hidden = true);
    const hits = await rpc('search', { dir: current, query }).catch((err) => (showError(err), []));
    ul.hidden = false;
    ul.replaceChildren(...(hits.length ? [] : [el('li', { className: 'muted' }, 'No message holds that text.')]));
    for (const h of hits) {
      const at = h.snippet.toLocaleLowerCase().indexOf(query.toLocaleLowerCase());
      const snippet = el('div', { className: 'snippet' }, h.snippet.slice(0, at), el('mark', {}, h.snippet.slice(at, at + query.length)), h.snippet.slice(at + query.length));
      const li = el('li', { dataset: { tree: h.treeId, id: h.messageId } }, el('div', {}, `${h.title ?? '(untitled chat)'} · ${h.role ?? ''}`), snippet);
      li.onclick = () => showChat(opened.model.chats.find((c) => c.treeId === h.treeId), h.messageId).catch(showError);
      ul.append(li);
    }
    demo.searched = query;
  }, 150);
};

async function showOps(tree, day) {
  document.querySelectorAll('#trees tr').forEach((tr) => tr.classList.toggle('active', tr.dataset.tree === tree.id));
  const all = await rpc('ops', { dir: current, treeId: tree.id });
  const days = [...new Set(all.map((o) => o.day))];
  day ??= days[0];
  $('#ops-panel').hidden = false;
  $('#ops-title').textContent = `Ops of ${tree.name ?? tree.id} (${fmtInt(all.length)})`;
  $('#days').replaceChildren(
    ...days.map((d) => {
      const b = el('button', { type: 'button', className: d === day ? 'active' : '' }, `${d} (${all.filter((o) => o.day === d).length})`);
      b.onclick = () => showOps(tree, d);
      return b;
    }),
  );
  const pre = $('#ops');
  pre.replaceChildren();
  let file = null;
  for (const o of all.filter((x) => x.day === day).slice(0, 2000)) {
    const f = `${o.peer}${o.fileKind === 'legacy' ? '.jsonl' : `-${o.fileKind}.jsonl`}`;
    if (f !== file) pre.append(el('span', { className: 'file' }, `${file ? '\n' : ''}# ${day.replaceAll('-', '/')}/${f}\n`));
    file = f;
    pre.append(`${o.line}\n`);
  }
}

async function renderGallery(w) {
  const gallery = $('#gallery');
  gallery.replaceChildren();
  const images = w.statics.filter((f) => f.type);
  $('#files-note').textContent = `${w.statics.length} blob(s) by hash (${images.length} image(s)), ${w.mutables.length} mutable file(s).`;
  for (const f of images.slice(0, 24)) {
    const { bytes, type } = await rpc('file', { dir: current, path: f.path });
    const url = URL.createObjectURL(new Blob([bytes], { type }));
    gallery.append(el('figure', {}, el('img', { src: url, alt: f.path, loading: 'lazy' }), el('figcaption', { title: f.path }, `${f.path.split('/').slice(-2).join('').slice(0, 12)}… · ${fmtBytes(f.size)}`)));
  }
}

function download(file, name, type) {
  const a = el('a', { href: URL.createObjectURL(new Blob([file], { type })), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => (URL.revokeObjectURL(a.href), a.remove()), 10_000);
}

async function exportAs(to) {
  const name = ($('#ws-name').textContent || 'workspace').replace(/[^\p{L}\p{N} ._-]+/gu, '').trim() || 'workspace';
  const { file, ms } = await busy(`Converting to ${to === 'sqlite' ? 'SQLite' : 'ZIP'}`, (p) => rpc('export', { dir: current, to }, p));
  demo.timings[`export-${to}`] = ms;
  download(file, `${name}.${to === 'sqlite' ? 'db' : 'zip'}`, to === 'sqlite' ? 'application/vnd.sqlite3' : 'application/zip');
}

// ---- opening things -----------------------------------------------------------------

async function importPicked(args) {
  try {
    const r = await busy('Reading and verifying', (p) => rpc('import', args, p));
    demo.timings.import = r.ms;
    await refreshList();
    await select(r.dir);
  } catch (e) {
    showError(e);
    await refreshList();
  }
}

$('#open-archive').onchange = (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  if (file) importPicked({ file });
};
$('#open-folder').onchange = (e) => {
  const files = [...e.target.files].map((file) => ({ file, relativePath: file.webkitRelativePath }));
  e.target.value = '';
  if (files.length) importPicked({ files });
};

async function walkEntry(entry, prefix, out) {
  if (entry.isFile) {
    out.push({ file: await new Promise((res, rej) => entry.file(res, rej)), relativePath: prefix + entry.name });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const e of batch) await walkEntry(e, `${prefix}${entry.name}/`, out);
    }
  }
}
const drop = $('#drop');
drop.ondragover = (e) => (e.preventDefault(), drop.classList.add('over'));
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (entries.length === 1 && entries[0].isFile) return importPicked({ file: e.dataTransfer.files[0] });
  const files = [];
  for (const entry of entries) await walkEntry(entry, '', files);
  importPicked({ files });
};

$('#open-idb').onclick = async () => {
  const ul = $('#idb-spaces');
  try {
    const spaces = await rpc('idbSpaces', {});
    ul.hidden = false;
    ul.replaceChildren(...(spaces.length ? [] : [el('li', { className: 'muted' }, "No spaces in Sila's IndexedDB database of this site.")]));
    for (const s of spaces) {
      const li = el('li', {}, el('div', {}, s.name ?? s.spaceId), el('div', { className: 'meta muted small mono' }, s.spaceUri));
      li.dataset.spaceId = s.spaceId;
      li.onclick = async () => {
        try {
          const r = await busy("Importing from Sila's IndexedDB", (p) => rpc('importIdb', { spaceId: s.spaceId, uri: s.spaceUri }, p));
          ul.hidden = true;
          await refreshList();
          await select(r.dir);
        } catch (err) {
          showError(err);
        }
      };
      ul.append(li);
    }
  } catch (e) {
    showError(e);
  }
};

$('#export-sqlite').onclick = () => exportAs('sqlite').catch(showError);
$('#export-zip').onclick = () => exportAs('zip').catch(showError);
$('#archive').onclick = async () => {
  try {
    await busy('Archiving', (p) => rpc('archive', { dir: current }, p));
    await refreshList();
    await select(current);
  } catch (e) {
    showError(e);
  }
};
$('#remove').onclick = async () => {
  if (!confirm('Remove this workspace from this browser?')) return;
  await rpc('remove', { dir: current });
  current = null;
  $('#workspace').hidden = true;
  $('#welcome').hidden = false;
  await refreshList();
};

refreshList()
  .then((list) => {
    demo.stored = list.length;
    if (list.length === 1 && !list[0].error) return select(list[0].dir);
  })
  .catch(showError)
  .finally(() => (demo.ready = true));
