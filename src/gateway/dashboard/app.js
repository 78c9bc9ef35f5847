// The outbox dashboard of `nubefact serve` (docs/gateway.md, "Dashboard"): plain JavaScript over the
// native API (/v1/accounts/{account}/…) with the API key's token as a Bearer token, kept in this tab's
// sessionStorage only. Live updates come from /v1/accounts/{account}/events (Server-Sent Events,
// read with fetch so that the token goes in a header, never in a URL).
'use strict';

const STATES = ['queued', 'sending', 'pending_sunat', 'accepted', 'rejected', 'refused', 'unknown',
  'conflict', 'failed'];
const TIPOS = { 1: 'factura', 2: 'boleta', 3: 'nota de crédito', 4: 'nota de débito', 7: 'guía remitente',
  8: 'guía transportista', 20: 'retención', 40: 'percepción' };
const $ = (sel) => document.querySelector(sel);

const session = {
  get account() { return sessionStorage.getItem('nubefact.account') || ''; },
  get token() { return sessionStorage.getItem('nubefact.token') || ''; },
  set(account, token) {
    sessionStorage.setItem('nubefact.account', account);
    sessionStorage.setItem('nubefact.token', token);
  },
  clear() { sessionStorage.removeItem('nubefact.account'); sessionStorage.removeItem('nubefact.token'); },
};

let openId = '';
let stream = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return e;
}

function stateBadge(state) {
  return el('span', { class: 'state state-' + state, 'data-state': state }, state.replace('_', ' '));
}

function age(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return Math.round(s) + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  if (s < 129600) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}

function base() { return '/v1/accounts/' + encodeURIComponent(session.account); }

async function api(path, method) {
  const res = await fetch(base() + path, { method: method || 'GET', headers: { Authorization: 'Bearer ' + session.token } });
  if (res.status === 401) { signOut('The token was refused: sign in again.'); throw new Error('401'); }
  if (res.status === 404 && path === '/summary') { signOut('This key has no such account.'); throw new Error('404'); }
  const body = await res.json();
  if (!res.ok) throw new Error(body.detail || body.title || ('HTTP ' + res.status));
  return body;
}

function showError(e) { $('#error').textContent = e ? String(e.message || e) : ''; }

async function loadSummary() {
  const s = await api('/summary');
  const counts = $('#counts');
  counts.replaceChildren();
  const by = Object.fromEntries(s.states.map((x) => [x.state, x]));
  for (const st of STATES) {
    const x = by[st] || { documents: 0 };
    counts.append(el('div', { class: 'count', 'data-state-count': st },
      stateBadge(st), el('span', { class: 'n' }, x.documents),
      el('span', { class: 'age' }, x.documents ? 'oldest ' + age(x.oldest) : '')));
  }
  const list = $('#attention');
  list.replaceChildren();
  if (!s.attention.length) list.append(el('li', { class: 'muted' }, 'Nothing needs attention.'));
  for (const d of s.attention) {
    const item = el('li', { 'data-id': d.id }, stateBadge(d.state), el('strong', {}, d.id),
      el('span', { class: 'muted' }, d.error || d.advice));
    item.addEventListener('click', () => openDocument(d.id));
    list.append(item);
  }
}

async function loadDocuments() {
  const q = new URLSearchParams({ limit: '100' });
  if ($('#f-state').value) q.set('state', $('#f-state').value);
  if ($('#f-serie').value.trim()) q.set('serie', $('#f-serie').value.trim().toUpperCase());
  const { documents } = await api('/documents?' + q);
  const body = $('#documents tbody');
  body.replaceChildren();
  for (const d of documents) {
    const row = el('tr', { 'data-id': d.id },
      el('td', {}, d.serie + '-' + d.numero), el('td', {}, TIPOS[d.tipo_de_comprobante] || d.tipo_de_comprobante),
      el('td', {}, stateBadge(d.state)), el('td', {}, age(d.updated_at) + ' ago'),
      el('td', {}, d.codigo ? 'codigo ' + d.codigo + (d.error ? ': ' + d.error : '') : (d.sunat_description || d.error)));
    row.addEventListener('click', () => openDocument(d.id));
    body.append(row);
  }
  $('#documents-empty').hidden = documents.length > 0;
}

async function openDocument(id) {
  openId = id;
  const enc = encodeURIComponent(id);
  const [d, t] = await Promise.all([api('/documents/' + enc), api('/documents/' + enc + '/timeline')]);
  $('#document-id').textContent = d.serie + '-' + d.numero + ' (' + (TIPOS[d.tipo_de_comprobante] || d.tipo_de_comprobante) + ')';
  $('#document-state').replaceChildren(stateBadge(d.state));
  $('#document-advice').textContent = d.advice;
  const fields = $('#document-fields');
  fields.replaceChildren();
  const show = [['operation', d.operation], ['attempts', d.attempts], ['codigo', d.codigo],
    ['aceptada_por_sunat', d.aceptada_por_sunat], ['sunat_responsecode', d.sunat_responsecode],
    ['sunat_description', d.sunat_description], ['sunat_note', d.sunat_note], ['error', d.error],
    ['cadena_para_codigo_qr', d.cadena_para_codigo_qr], ['codigo_hash', d.codigo_hash],
    ['created_at', d.created_at], ['updated_at', d.updated_at]];
  for (const [k, v] of show) {
    if (v === null || v === '' || v === undefined) continue;
    fields.append(el('dt', {}, k), el('dd', { 'data-field': k }, v));
  }
  const links = $('#document-links');
  links.replaceChildren();
  for (const [k, label] of [['enlace_del_pdf', 'PDF'], ['enlace_del_xml', 'XML'], ['enlace_del_cdr', 'CDR'], ['enlace', 'Nubefact']]) {
    if (d[k]) links.append(el('a', { href: d[k], target: '_blank', rel: 'noopener noreferrer' }, label));
  }
  const tl = $('#timeline tbody');
  tl.replaceChildren();
  for (const e of t.events) {
    tl.append(el('tr', { 'data-outcome': e.outcome }, el('td', {}, e.at), el('td', {}, e.operation),
      el('td', {}, e.attempt), el('td', {}, e.http_status || '—'), el('td', {}, e.codigo ?? ''),
      el('td', {}, e.outcome), el('td', {}, e.latency_ms)));
  }
  if (!t.events.length) tl.append(el('tr', {}, el('td', { colSpan: 7, class: 'muted' }, 'No exchange with Nubefact yet.')));
  $('#document').hidden = false;
}

let refreshTimer = 0;
function refreshSoon(id) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    Promise.all([loadSummary(), loadDocuments(), openId && (!id || id === openId) ? openDocument(openId) : null])
      .then(() => showError(null)).catch(showError);
  }, 150);
}

function setLive(on) {
  const l = $('#live');
  l.className = 'live ' + (on ? 'on' : 'off');
  l.textContent = on ? 'live' : 'offline';
}

async function follow() {
  const mine = new AbortController();
  stream = mine;
  while (stream === mine) {
    try {
      const res = await fetch(base() + '/events', { headers: { Authorization: 'Bearer ' + session.token }, signal: mine.signal });
      if (!res.ok || !res.body) throw new Error('events: HTTP ' + res.status);
      setLive(true);
      const reader = res.body.getReader();
      const text = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += text.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let event = 'message', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (event === 'document') {
            let id = '';
            try { id = JSON.parse(data).id; } catch (e) { /* a resync */ }
            refreshSoon(id);
          } else if (event === 'resync') {
            refreshSoon('');
          }
        }
      }
    } catch (e) {
      if (mine.signal.aborted) return;
    }
    setLive(false);
    if (stream !== mine) return;
    await new Promise((r) => setTimeout(r, 2000));
    refreshSoon('');
  }
}

function signOut(message) {
  if (stream) stream.abort();
  stream = null;
  session.clear();
  $('#board').hidden = true;
  $('#session').hidden = true;
  $('#sign-in').hidden = false;
  $('#sign-in-error').textContent = message || '';
}

async function start() {
  $('#sign-in').hidden = true;
  $('#session').hidden = false;
  $('#account-name').textContent = session.account;
  try {
    await loadSummary();
    await loadDocuments();
  } catch (e) {
    if (e.message !== '401' && e.message !== '404') showError(e);
    return;
  }
  $('#board').hidden = false;
  follow();
}

document.addEventListener('DOMContentLoaded', () => {
  const sel = $('#f-state');
  for (const st of STATES) sel.append(el('option', { value: st }, st.replace('_', ' ')));
  $('#sign-in-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    session.set($('#in-account').value.trim(), $('#in-token').value.trim());
    start();
  });
  $('#filters').addEventListener('submit', (ev) => { ev.preventDefault(); loadDocuments().catch(showError); });
  $('#sign-out').addEventListener('click', () => signOut(''));
  $('#document-close').addEventListener('click', () => { openId = ''; $('#document').hidden = true; });
  // An action asks to be confirmed: a first click arms it for 5 s, a second one does it.
  const refresh = $('#document-refresh');
  let armed = 0;
  refresh.addEventListener('click', () => {
    if (!armed) {
      refresh.textContent = 'Confirm: consult Nubefact now';
      refresh.classList.add('armed');
      armed = setTimeout(() => { armed = 0; refresh.textContent = 'Ask Nubefact again'; refresh.classList.remove('armed'); }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = 0;
    refresh.textContent = 'Asking…';
    refresh.disabled = true;
    api('/documents/' + encodeURIComponent(openId) + '/refresh', 'POST')
      .then(() => openDocument(openId)).then(() => showError(null)).catch(showError)
      .finally(() => { refresh.disabled = false; refresh.textContent = 'Ask Nubefact again'; refresh.classList.remove('armed'); });
  });
  if (session.account && session.token) start(); else signOut('');
});
