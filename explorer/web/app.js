// BIZRA block explorer: a single-page app in plain JavaScript.
//
// It talks only to the explorer's JSON API on the same origin. Every piece of
// data goes into the DOM through textContent, attributes or createElement, never
// through innerHTML. Routes live in the location hash:
//
//   #/                    home: chain statistics, chart, latest blocks and txs
//   #/block/<height|hash> one block and its transactions
//   #/tx/<hash>           one transaction
//   #/address/<address>   an address and its transactions (?before=CURSOR pages)
//   #/validators          leaderboard and validator list
'use strict';

(() => {
  const POLL_MS = 1000;
  const VALIDATORS_POLL_MS = 5000;
  const REQUEST_TIMEOUT_MS = 10000;
  const LATEST_LIMIT = 20;
  const ADDRESS_PAGE_SIZE = 25;
  const UNIT = 'BIZRA';
  const UNIT_DECIMALS = 18;
  const SHOWN_DECIMALS = 6;
  const COLOR_TPS = '#2563eb';
  const COLOR_INTERVAL = '#e07b12';

  const RE_HEIGHT = /^\d+$/;
  const RE_HASH = /^0x[0-9a-fA-F]{64}$/;
  const RE_ADDRESS = /^0x[0-9a-fA-F]{40}$/;

  const app = document.getElementById('app');
  const banner = document.getElementById('error-banner');
  const bannerText = document.getElementById('error-text');
  const bannerClose = document.getElementById('error-close');
  const searchForm = document.getElementById('search-form');
  const searchInput = document.getElementById('search');
  const searchMessage = document.getElementById('search-message');
  const footerStatus = document.getElementById('footer-status');

  // ---------------------------------------------------------------- DOM

  // h creates an element. props: class, text, dataset, style (an object, set
  // through the CSSOM), on<event> handlers and plain attributes; children:
  // nodes or values that become text nodes.
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === 'class') node.className = value;
        else if (key === 'text') node.textContent = String(value);
        else if (key === 'style' && typeof value === 'object') Object.assign(node.style, value);
        else if (key === 'dataset') {
          for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
        } else if (key.startsWith('on') && typeof value === 'function') {
          node.addEventListener(key.slice(2), value);
        } else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    appendChildren(node, children);
    return node;
  }

  function appendChildren(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  const dash = () => h('span', {class: 'muted'}, '—');

  // ---------------------------------------------------------------- formatting

  const intFormat = new Intl.NumberFormat('en-US', {maximumFractionDigits: 0});

  function isNum(n) {
    return typeof n === 'number' && Number.isFinite(n);
  }

  function fmtInt(n) {
    return isNum(n) ? intFormat.format(n) : '—';
  }

  function fmtFixed(n, digits) {
    return isNum(n)
      ? n.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits})
      : '—';
  }

  function groupDigits(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  // parseBig reads an integer given as a decimal string (or a safe integer)
  // into a BigInt; anything else gives null.
  function parseBig(v) {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
    return null;
  }

  // formatUnits divides an integer amount by 10^decimals with BigInt
  // arithmetic and keeps at most `shown` fraction digits (truncated, trailing
  // zeros dropped). A non-zero amount too small to show gives "< 0.000001".
  function formatUnits(amount, decimals, shown) {
    const v = parseBig(amount);
    if (v === null) return null;
    const negative = v < 0n;
    const abs = negative ? -v : v;
    const base = 10n ** BigInt(decimals);
    const whole = abs / base;
    const frac = abs % base;
    const keep = Math.min(shown, decimals);
    const fracShown = frac / 10n ** BigInt(decimals - keep);
    if (whole === 0n && fracShown === 0n && frac !== 0n) {
      return (negative ? '> -0.' : '< 0.') + '0'.repeat(keep - 1) + '1';
    }
    const fracText = keep > 0 ? fracShown.toString().padStart(keep, '0').replace(/0+$/, '') : '';
    return (negative ? '-' : '') + groupDigits(whole.toString()) + (fracText ? '.' + fracText : '');
  }

  // amount shows a wei amount in whole units, with the exact wei as a tooltip.
  function amount(wei, unit = UNIT, decimals = UNIT_DECIMALS, shown = SHOWN_DECIMALS) {
    const text = formatUnits(wei, decimals, shown);
    if (text === null) return dash();
    return h('span', {class: 'amount nowrap', title: String(wei) + ' wei'}, unit ? text + ' ' + unit : text);
  }

  function gasPrice(wei) {
    const text = formatUnits(wei, 9, 9);
    if (text === null) return dash();
    return h('span', {class: 'amount nowrap', title: String(wei) + ' wei'}, text + ' gwei');
  }

  function stake(v) {
    const big = parseBig(v);
    if (big === null) return dash();
    return h('span', {class: 'nowrap', title: String(v)}, groupDigits(big.toString()));
  }

  // stakeShare is signed / total as a percentage with two decimals, in BigInt.
  function stakeShare(signed, total) {
    const s = parseBig(signed);
    const t = parseBig(total);
    if (s === null || t === null || t <= 0n) return null;
    const basisPoints = (s * 10000n) / t;
    return Number(basisPoints) / 100;
  }

  function ageText(ms) {
    if (!isNum(ms)) return '—';
    const s = Math.floor((Date.now() - ms) / 1000);
    if (s < 1) return 'just now';
    if (s < 60) return s + ' s ago';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ago';
    const hours = Math.floor(m / 60);
    if (hours < 48) return hours + ' h ago';
    return Math.floor(hours / 24) + ' d ago';
  }

  function isoTime(ms) {
    if (!isNum(ms)) return '—';
    const d = new Date(ms);
    return Number.isNaN(d.getTime()) ? '—' : d.toISOString();
  }

  function age(ms) {
    return h('span', {class: 'age nowrap', title: isoTime(ms)}, ageText(ms));
  }

  function fmtDuration(ms) {
    if (!isNum(ms)) return '—';
    if (Math.abs(ms) < 1000) return Math.round(ms) + ' ms';
    if (Math.abs(ms) < 60000) return (ms / 1000).toFixed(2) + ' s';
    return (ms / 60000).toFixed(1) + ' min';
  }

  function fmtCompact(n) {
    if (!isNum(n)) return '';
    const abs = Math.abs(n);
    if (abs >= 1e6) return trimZeros((n / 1e6).toFixed(1)) + 'M';
    if (abs >= 1e4) return trimZeros((n / 1e3).toFixed(1)) + 'k';
    if (Number.isInteger(n)) return intFormat.format(n);
    return trimZeros(n.toFixed(abs < 10 ? 2 : 1));
  }

  function trimZeros(s) {
    return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  }

  function shortHex(s, head = 10, tail = 8) {
    if (typeof s !== 'string') return '—';
    return s.length > head + tail + 1 ? s.slice(0, head) + '…' + s.slice(-tail) : s;
  }

  // ---------------------------------------------------------------- links

  function blockHref(id) {
    return '#/block/' + encodeURIComponent(String(id));
  }

  function blockLink(height, text) {
    if (height === null || height === undefined) return dash();
    return h('a', {class: 'block-link', href: blockHref(height)}, text !== undefined ? text : fmtInt(height));
  }

  function blockHashLink(hash, full) {
    if (typeof hash !== 'string') return dash();
    return h('a', {class: 'block-link mono', href: blockHref(hash), title: hash}, full ? hash : shortHex(hash));
  }

  function txLink(hash, full, head = 10, tail = 8) {
    if (typeof hash !== 'string') return dash();
    return h('a', {class: 'tx-link mono', href: '#/tx/' + encodeURIComponent(hash), title: hash},
      full ? hash : shortHex(hash, head, tail));
  }

  function addrLink(addr, full, label, head = 8, tail = 6) {
    if (typeof addr !== 'string' || addr === '') return dash();
    return h('a', {class: 'addr-link mono', href: '#/address/' + encodeURIComponent(addr), title: addr},
      label !== undefined ? label : (full ? addr : shortHex(addr, head, tail)));
  }

  function statusBadge(status) {
    const s = typeof status === 'string' && status ? status : 'unknown';
    const cls = s === 'success' || s === 'active' ? 'ok' : (s === 'failed' || s === 'failure' || s === 'slashed' || s === 'jailed') ? 'bad' : 'warn';
    return h('span', {class: 'badge ' + cls}, s);
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(message, status, path) {
      super(message);
      this.name = 'ApiError';
      this.status = status;
      this.path = path;
    }
  }

  function isAbort(err) {
    return !!err && err.name === 'AbortError';
  }

  // api fetches one JSON document from the explorer API. It gives up after
  // REQUEST_TIMEOUT_MS, and rejects with an AbortError when signal aborts (the
  // route changed), with an ApiError otherwise.
  async function api(path, signal) {
    if (signal && signal.aborted) throw new DOMException('route changed', 'AbortError');
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (signal) signal.addEventListener('abort', onAbort, {once: true});
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    let res;
    let text;
    try {
      res = await fetch(path, {
        signal: controller.signal,
        cache: 'no-store',
        headers: {Accept: 'application/json'},
      });
      text = await res.text();
    } catch (err) {
      if (timedOut) {
        throw new ApiError('The explorer API did not answer within ' + REQUEST_TIMEOUT_MS / 1000 + ' s (' + path + ').', 0, path);
      }
      if (signal && signal.aborted) throw err;
      throw new ApiError('Cannot reach the explorer API (' + path + ').', 0, path);
    } finally {
      clearTimeout(timer);
      if (signal) signal.removeEventListener('abort', onAbort);
    }
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_) {
      body = null;
    }
    if (!res.ok) {
      const message = body && typeof body.error === 'string' && body.error
        ? body.error
        : (res.statusText || 'request failed');
      throw new ApiError(message, res.status, path);
    }
    if (body === null || typeof body !== 'object') {
      throw new ApiError('The explorer API sent an invalid answer for ' + path + '.', res.status, path);
    }
    return body;
  }

  function errorText(err) {
    if (err instanceof ApiError) {
      if (err.status) return 'API error ' + err.status + ' on ' + err.path + ': ' + err.message;
      return err.message;
    }
    return 'Unexpected error: ' + (err && err.message ? err.message : String(err));
  }

  function showError(err) {
    bannerText.textContent = typeof err === 'string' ? err : errorText(err);
    banner.hidden = false;
  }

  function hideError() {
    banner.hidden = true;
    bannerText.textContent = '';
  }

  bannerClose.addEventListener('click', hideError);

  // An error that escapes the app is shown too, not only logged.
  window.addEventListener('error', (ev) => {
    showError('Unexpected error: ' + (ev.message || 'script error'));
  });
  window.addEventListener('unhandledrejection', (ev) => {
    if (isAbort(ev.reason)) return;
    showError(ev.reason instanceof ApiError ? ev.reason : 'Unexpected error: ' + String(ev.reason && ev.reason.message || ev.reason));
  });

  // ---------------------------------------------------------------- views

  // A View is the life of one route: its requests, timers and listeners end
  // together when the route changes.
  class View {
    constructor() {
      this.active = true;
      this.controller = new AbortController();
      this.timers = new Set();
      this.cleanups = [];
    }

    fetch(path) {
      return api(path, this.controller.signal);
    }

    later(fn, ms) {
      const id = setTimeout(() => {
        this.timers.delete(id);
        if (this.active) fn();
      }, ms);
      this.timers.add(id);
    }

    listen(target, type, fn, options) {
      target.addEventListener(type, fn, options);
      this.cleanups.push(() => target.removeEventListener(type, fn, options));
    }

    // poll runs the async fn now and then again `interval` ms after the start
    // of the previous run, but never before the previous run has finished, so
    // a slow API does not pile up requests. A failed run shows the banner, a
    // good one hides it, and polling goes on in both cases.
    poll(fn, interval, onState) {
      const tick = async () => {
        if (!this.active) return;
        const started = Date.now();
        let ok = false;
        try {
          await fn();
          ok = true;
        } catch (err) {
          if (!this.active || isAbort(err)) return;
          showError(err);
        }
        if (!this.active) return;
        if (ok) hideError();
        if (onState) onState(ok);
        this.later(tick, Math.max(100, interval - (Date.now() - started)));
      };
      tick();
    }

    dispose() {
      this.active = false;
      this.controller.abort();
      for (const id of this.timers) clearTimeout(id);
      this.timers.clear();
      for (const fn of this.cleanups.splice(0)) fn();
    }
  }

  // load fetches the data of a detail page once. It shows a loading line,
  // and on failure the banner plus a message in the page.
  async function load(view, path, what, notFound) {
    app.replaceChildren(h('div', {class: 'loading'}, 'Loading ' + what + '…'));
    try {
      return await view.fetch(path);
    } catch (err) {
      if (!view.active || isAbort(err)) return null;
      showError(err);
      if (err instanceof ApiError && err.status === 404) {
        renderMessage(capitalize(what) + ' not found', notFound);
      } else {
        renderMessage('Could not load the ' + what, errorText(err));
      }
      return null;
    }
  }

  function capitalize(s) {
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function renderMessage(title, text) {
    app.replaceChildren(h('section', {class: 'panel message'},
      h('h1', null, title),
      h('p', null, text),
      h('p', null, h('a', {href: '#/'}, 'Back to the latest blocks'))));
  }

  function panel(title, hint, ...body) {
    return h('section', {class: 'panel'},
      h('div', {class: 'panel-head'}, h('h2', null, title), hint),
      ...body);
  }

  function table(id, columns, placeholder) {
    const tbody = h('tbody');
    const tbl = h('table', {id},
      h('thead', null, h('tr', null, columns.map((c) => {
        const [label, cls] = Array.isArray(c) ? c : [c, null];
        return h('th', {class: cls, scope: 'col'}, label);
      }))),
      tbody);
    if (placeholder) setEmpty(tbody, columns.length, placeholder);
    return {table: h('div', {class: 'table-wrap'}, tbl), tbody, columns: columns.length};
  }

  function setEmpty(tbody, columns, text) {
    tbody.replaceChildren(h('tr', {class: 'empty'}, h('td', {class: 'empty', colspan: columns}, text)));
  }

  // syncRows makes tbody show one row per item, in order. Rows are keyed by
  // the data attribute `key`; an existing row is kept (and refreshed by
  // update) so that the table does not flicker or lose a pointer target
  // between polls. New rows after the first fill get a short highlight.
  function syncRows(tbody, items, key, build, update, columns, emptyText) {
    const existing = new Map();
    for (const row of Array.from(tbody.rows)) {
      if (row.dataset[key] !== undefined) existing.set(row.dataset[key], row);
      else row.remove();
    }
    const firstFill = existing.size === 0;
    const wanted = [];
    const seen = new Set();
    for (const item of items) {
      const k = String(item[key]);
      if (seen.has(k)) continue;
      seen.add(k);
      let row = existing.get(k);
      if (row) {
        existing.delete(k);
        if (update) update(row, item);
      } else {
        row = build(item);
        if (!firstFill) row.classList.add('fresh');
      }
      wanted.push(row);
    }
    for (const row of existing.values()) row.remove();
    wanted.forEach((row, i) => {
      if (tbody.rows[i] !== row) tbody.insertBefore(row, tbody.rows[i] || null);
    });
    if (wanted.length === 0) setEmpty(tbody, columns, emptyText);
  }

  function refreshAge(row, ts) {
    const cell = row.querySelector('.age');
    if (cell) cell.textContent = ageText(ts);
  }

  // ---------------------------------------------------------------- home

  function renderHome(view) {
    const statDefs = [
      ['stat-height', 'Height'],
      ['stat-tps', 'Transactions / s'],
      ['stat-interval', 'Block interval'],
      ['stat-finality', 'Finality'],
      ['stat-total-txs', 'Total transactions'],
      ['stat-behind', 'Blocks behind node'],
    ];
    const cards = {};
    const subs = {};
    const statsEl = h('section', {class: 'stats', 'aria-label': 'Chain statistics'},
      statDefs.map(([id, label]) => {
        cards[id] = h('div', {class: 'stat-value', id}, '—');
        subs[id] = h('div', {class: 'stat-sub'}, '\u00a0');
        return h('div', {class: 'stat', 'data-stat': id}, h('div', {class: 'stat-label'}, label), cards[id], subs[id]);
      }));

    const live = h('span', {class: 'live'}, 'live');
    const chartHint = h('span', {class: 'hint'}, '');
    const canvas = h('canvas', {id: 'chart', role: 'img', 'aria-label': 'Transactions per second and block interval over recent blocks'},
      'Transactions per second and block interval over recent blocks.');
    const chartPanel = panel('Throughput and block interval', chartHint, h('div', {class: 'chart-wrap'}, canvas));
    chartPanel.querySelector('.panel-head').insertBefore(live, chartHint);

    const blocks = table('latest-blocks', ['Height', 'Age', ['Txs', 'num'], 'Proposer', 'Hash'], 'Waiting for blocks…');
    const txs = table('latest-txs', ['Hash', 'Age', 'From → To', ['Value (' + UNIT + ')', 'num']], 'Waiting for transactions…');

    app.replaceChildren(
      statsEl,
      chartPanel,
      h('div', {class: 'grid-2'},
        panel('Latest blocks', h('span', {class: 'hint'}, 'newest first'), blocks.table),
        panel('Latest transactions', h('span', {class: 'hint'}, 'newest first'), txs.table)));

    const chart = new Chart(canvas, view);

    const setStat = (id, text, sub, title) => {
      cards[id].textContent = text;
      if (title) cards[id].title = title;
      else cards[id].removeAttribute('title');
      subs[id].textContent = sub || '\u00a0';
    };

    const updateStats = (s) => {
      setStat('stat-height', fmtInt(s.height), s.headHash ? 'head ' + shortHex(s.headHash) : '', s.headHash || '');
      setStat('stat-tps', fmtFixed(s.txPerSecond, 1), 'recent blocks');
      setStat('stat-interval', fmtDuration(s.blockIntervalMs), 'average');
      setStat('stat-finality', s.finalityMs === null || s.finalityMs === undefined ? '—' : fmtDuration(s.finalityMs),
        s.finalityMs === null || s.finalityMs === undefined ? 'not measured yet' : 'block to final');
      setStat('stat-total-txs', fmtInt(s.totalTransactions), 'indexed');
      setStat('stat-behind', fmtInt(s.behind), isNum(s.nodeHeight) ? 'node at ' + fmtInt(s.nodeHeight) : '');
      cards['stat-behind'].parentElement.classList.toggle('stat-behind-warn', isNum(s.behind) && s.behind > 5);
      const series = Array.isArray(s.series) ? s.series : [];
      chart.setSeries(series);
      chartHint.textContent = series.length ? 'last ' + series.length + ' blocks' : '';
    };

    const buildBlockRow = (b) => h('tr', {dataset: {height: b.height}},
      h('td', null, blockLink(b.height)),
      h('td', null, age(b.timestamp)),
      h('td', {class: 'num'}, fmtInt(b.txCount)),
      h('td', null, typeof b.proposer === 'string' && b.proposer
        ? addrLink(b.proposer, false, b.proposerName || undefined)
        : (b.proposerName || dash())),
      h('td', null, blockHashLink(b.hash)));

    const buildTxRow = (t) => h('tr', {dataset: {hash: t.hash}},
      h('td', null, txLink(t.hash, false, 8, 6)),
      h('td', null, age(t.timestamp)),
      h('td', null, addrLink(t.from, false, undefined, 6, 4), h('span', {class: 'arrow', 'aria-hidden': 'true'}, '→'),
        addrLink(t.to, false, undefined, 6, 4)),
      h('td', {class: 'num'}, amount(t.value, '')));

    view.poll(async () => {
      const results = await Promise.allSettled([
        view.fetch('/api/stats'),
        view.fetch('/api/blocks?limit=' + LATEST_LIMIT),
        view.fetch('/api/txs?limit=' + LATEST_LIMIT),
      ]);
      if (!view.active) return;
      const [stats, blockList, txList] = results;
      if (stats.status === 'fulfilled') updateStats(stats.value);
      if (blockList.status === 'fulfilled') {
        const items = Array.isArray(blockList.value.blocks) ? blockList.value.blocks : [];
        syncRows(blocks.tbody, items.filter((b) => b && b.height !== undefined), 'height', buildBlockRow,
          (row, b) => refreshAge(row, b.timestamp), blocks.columns, 'No blocks indexed yet.');
      }
      if (txList.status === 'fulfilled') {
        const items = Array.isArray(txList.value.transactions) ? txList.value.transactions : [];
        syncRows(txs.tbody, items.filter((t) => t && typeof t.hash === 'string'), 'hash', buildTxRow,
          (row, t) => refreshAge(row, t.timestamp), txs.columns, 'No transactions indexed yet.');
      }
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    }, POLL_MS, (ok) => {
      live.textContent = ok ? 'live' : 'offline';
      live.classList.toggle('offline', !ok);
      footerStatus.textContent = ok ? 'Updated ' + new Date().toLocaleTimeString('en-GB') : 'Retrying…';
    });
  }

  // Chart draws tx/s (left axis, filled) and block interval in ms (right
  // axis, line) against block height on a canvas, with a hover read-out.
  class Chart {
    constructor(canvas, view) {
      this.canvas = canvas;
      this.points = [];
      this.hover = -1;
      this.layout = null;
      view.listen(window, 'resize', () => this.draw());
      view.listen(canvas, 'mousemove', (ev) => this.onMove(ev));
      view.listen(canvas, 'mouseleave', () => {
        this.hover = -1;
        this.draw();
      });
    }

    setSeries(series) {
      this.points = series
        .filter((p) => p && isNum(p.height))
        .map((p) => {
          const interval = isNum(p.intervalMs) && p.intervalMs > 0 ? p.intervalMs : null;
          return {
            height: p.height,
            timestamp: p.timestamp,
            txCount: isNum(p.txCount) ? p.txCount : null,
            interval,
            tps: interval !== null && isNum(p.txCount) ? (p.txCount * 1000) / interval : null,
          };
        });
      if (this.hover >= this.points.length) this.hover = -1;
      this.draw();
    }

    onMove(ev) {
      const l = this.layout;
      if (!l || this.points.length < 2) return;
      const rect = this.canvas.getBoundingClientRect();
      const x = ev.clientX - rect.left;
      let best = -1;
      let bestDist = Infinity;
      this.points.forEach((p, i) => {
        const d = Math.abs(l.xOf(p.height) - x);
        if (d < bestDist) {
          bestDist = d;
          best = i;
        }
      });
      if (best !== this.hover) {
        this.hover = best;
        this.draw();
      }
    }

    draw() {
      const c = this.canvas;
      const width = c.clientWidth;
      const height = c.clientHeight;
      if (!width || !height) return;
      const dpr = window.devicePixelRatio || 1;
      const pw = Math.round(width * dpr);
      const ph = Math.round(height * dpr);
      if (c.width !== pw || c.height !== ph) {
        c.width = pw;
        c.height = ph;
      }
      const g = c.getContext('2d');
      if (!g) return;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, width, height);
      g.font = '12px system-ui, sans-serif';
      g.textBaseline = 'middle';

      const pad = {left: 62, right: 70, top: 34, bottom: 42};
      const plotW = width - pad.left - pad.right;
      const plotH = height - pad.top - pad.bottom;

      this.drawLegend(g, pad.left, 14);

      const pts = this.points;
      if (pts.length < 2 || plotW < 50 || plotH < 40) {
        g.fillStyle = '#637083';
        g.textAlign = 'center';
        g.fillText('Waiting for enough blocks to draw…', width / 2, height / 2);
        this.layout = null;
        return;
      }

      const x0 = pts[0].height;
      const x1 = pts[pts.length - 1].height;
      const xOf = (hgt) => pad.left + (x1 === x0 ? plotW / 2 : ((hgt - x0) / (x1 - x0)) * plotW);
      const tpsMax = niceMax(Math.max(0, ...pts.map((p) => p.tps || 0)));
      const intMax = niceMax(Math.max(0, ...pts.map((p) => p.interval || 0)));
      const yTps = (v) => pad.top + plotH - (v / tpsMax) * plotH;
      const yInt = (v) => pad.top + plotH - (v / intMax) * plotH;
      this.layout = {xOf};

      // Grid and the two value axes.
      const divisions = 4;
      g.lineWidth = 1;
      for (let i = 0; i <= divisions; i++) {
        const y = Math.round(pad.top + plotH - (i / divisions) * plotH) + 0.5;
        g.strokeStyle = i === 0 ? '#c5cdd9' : '#edf0f5';
        g.beginPath();
        g.moveTo(pad.left, y);
        g.lineTo(pad.left + plotW, y);
        g.stroke();
        g.fillStyle = COLOR_TPS;
        g.textAlign = 'right';
        g.fillText(fmtCompact((tpsMax * i) / divisions), pad.left - 8, y);
        g.fillStyle = COLOR_INTERVAL;
        g.textAlign = 'left';
        g.fillText(fmtCompact((intMax * i) / divisions), pad.left + plotW + 8, y);
      }

      // Block height axis.
      const xStep = Math.max(1, niceStep((x1 - x0) / 6, [1, 2, 5]));
      g.fillStyle = '#637083';
      g.textAlign = 'center';
      g.textBaseline = 'top';
      for (let v = Math.ceil(x0 / xStep) * xStep; v <= x1; v += xStep) {
        const x = Math.round(xOf(v)) + 0.5;
        g.strokeStyle = '#c5cdd9';
        g.beginPath();
        g.moveTo(x, pad.top + plotH);
        g.lineTo(x, pad.top + plotH + 4);
        g.stroke();
        g.fillText(fmtInt(v), x, pad.top + plotH + 7);
      }
      g.fillText('block height', pad.left + plotW / 2, pad.top + plotH + 24);

      // Axis titles.
      g.save();
      g.textBaseline = 'middle';
      g.textAlign = 'center';
      g.fillStyle = COLOR_TPS;
      g.translate(14, pad.top + plotH / 2);
      g.rotate(-Math.PI / 2);
      g.fillText('tx/s', 0, 0);
      g.restore();
      g.save();
      g.textBaseline = 'middle';
      g.textAlign = 'center';
      g.fillStyle = COLOR_INTERVAL;
      g.translate(width - 14, pad.top + plotH / 2);
      g.rotate(Math.PI / 2);
      g.fillText('block interval (ms)', 0, 0);
      g.restore();

      // tx/s: filled area under a line; a missing value breaks the line.
      const segments = (key) => {
        const out = [];
        let cur = [];
        for (const p of pts) {
          if (p[key] === null) {
            if (cur.length) out.push(cur);
            cur = [];
          } else cur.push(p);
        }
        if (cur.length) out.push(cur);
        return out;
      };
      g.save();
      g.beginPath();
      g.rect(pad.left, pad.top - 1, plotW, plotH + 2);
      g.clip();
      const strokeSeries = (seg, yOf, color) => {
        g.beginPath();
        seg.forEach((p, i) => (i ? g.lineTo : g.moveTo).call(g, xOf(p.height), yOf(p)));
        g.strokeStyle = color;
        g.lineWidth = 1.8;
        g.lineJoin = 'round';
        g.stroke();
      };
      for (const seg of segments('tps')) {
        g.beginPath();
        g.moveTo(xOf(seg[0].height), yTps(0));
        for (const p of seg) g.lineTo(xOf(p.height), yTps(p.tps));
        g.lineTo(xOf(seg[seg.length - 1].height), yTps(0));
        g.closePath();
        g.fillStyle = 'rgba(37, 99, 235, 0.12)';
        g.fill();
        strokeSeries(seg, (p) => yTps(p.tps), COLOR_TPS);
      }
      for (const seg of segments('interval')) {
        strokeSeries(seg, (p) => yInt(p.interval), COLOR_INTERVAL);
        if (seg.length === 1) {
          g.fillStyle = COLOR_INTERVAL;
          g.fillRect(xOf(seg[0].height) - 1.5, yInt(seg[0].interval) - 1.5, 3, 3);
        }
      }
      g.restore();

      if (this.hover >= 0 && this.hover < pts.length) this.drawHover(g, pts[this.hover], xOf, yTps, yInt, pad, plotW, plotH);
    }

    drawLegend(g, x, y) {
      g.textBaseline = 'middle';
      g.textAlign = 'left';
      const items = [[COLOR_TPS, 'tx/s (left axis)'], [COLOR_INTERVAL, 'block interval, ms (right axis)']];
      for (const [color, label] of items) {
        g.fillStyle = color;
        g.fillRect(x, y - 2, 16, 4);
        g.fillStyle = '#172033';
        g.fillText(label, x + 22, y);
        x += 22 + g.measureText(label).width + 22;
      }
    }

    drawHover(g, p, xOf, yTps, yInt, pad, plotW, plotH) {
      const x = Math.round(xOf(p.height)) + 0.5;
      g.strokeStyle = 'rgba(23, 32, 51, 0.35)';
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(x, pad.top);
      g.lineTo(x, pad.top + plotH);
      g.stroke();
      if (p.tps !== null) dot(g, x, yTps(p.tps), COLOR_TPS);
      if (p.interval !== null) dot(g, x, yInt(p.interval), COLOR_INTERVAL);
      const lines = [
        'block ' + fmtInt(p.height),
        'tx/s ' + (p.tps === null ? '—' : fmtFixed(p.tps, 1)),
        'interval ' + fmtDuration(p.interval),
        'txs ' + fmtInt(p.txCount),
      ];
      g.font = '12px system-ui, sans-serif';
      const w = Math.max(...lines.map((l) => g.measureText(l).width)) + 16;
      const boxH = lines.length * 16 + 10;
      let bx = x + 10;
      if (bx + w > pad.left + plotW) bx = x - 10 - w;
      const by = pad.top + 6;
      g.fillStyle = 'rgba(16, 26, 46, 0.88)';
      g.fillRect(bx, by, w, boxH);
      g.fillStyle = '#fff';
      g.textAlign = 'left';
      g.textBaseline = 'top';
      lines.forEach((l, i) => g.fillText(l, bx + 8, by + 6 + i * 16));
    }
  }

  function dot(g, x, y, color) {
    g.beginPath();
    g.arc(x, y, 3.5, 0, Math.PI * 2);
    g.fillStyle = color;
    g.fill();
  }

  // niceStep rounds a raw step up to one of `steps` times a power of ten.
  function niceStep(raw, steps = [1, 2, 2.5, 5]) {
    if (!(raw > 0)) return 1;
    const pow = 10 ** Math.floor(Math.log10(raw));
    for (const m of steps) {
      if (m * pow >= raw) return m * pow;
    }
    return 10 * pow;
  }

  // niceMax is the top of a four-division value axis that holds v, with
  // round tick labels and little empty room above the data.
  function niceMax(v) {
    if (!(v > 0)) return 4;
    return niceStep(v / 4, [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8]) * 4;
  }

  // ---------------------------------------------------------------- block

  async function renderBlock(view, id) {
    if (!RE_HEIGHT.test(id) && !RE_HASH.test(id)) {
      renderMessage('Invalid block', 'A block is named by its height or by its 0x hash of 64 hex digits.');
      return;
    }
    const key = RE_HEIGHT.test(id) ? BigInt(id).toString() : id.toLowerCase();
    const b = await load(view, '/api/blocks/' + encodeURIComponent(key), 'block',
      RE_HEIGHT.test(key)
        ? 'The explorer has no block at height ' + groupDigits(key) + ' (yet).'
        : 'The explorer knows no transaction or block with hash ' + key + '.');
    if (!b || !view.active) return;

    const txsList = Array.isArray(b.transactions) ? b.transactions : [];
    const share = stakeShare(b.signedStake, b.totalStake);
    const signers = Array.isArray(b.signers) ? b.signers : [];
    const heightNum = isNum(b.height) ? b.height : null;

    const pager = h('div', {class: 'pager'},
      heightNum !== null && heightNum > 0 ? h('a', {class: 'button', href: blockHref(heightNum - 1)}, '‹ Block ' + fmtInt(heightNum - 1)) : null,
      heightNum !== null ? h('a', {class: 'button', href: blockHref(heightNum + 1)}, 'Block ' + fmtInt(heightNum + 1) + ' ›') : null);

    const rows = [
      kv('Height', 'height', fmtInt(b.height)),
      kv('Hash', 'hash', h('span', {class: 'mono'}, b.hash || '—')),
      kv('Parent hash', 'parent', heightNum !== null && heightNum > 0 ? blockHashLink(b.parentHash, true) : h('span', {class: 'mono'}, b.parentHash || '—')),
      kv('Time', 'time', h('span', null, isoTime(b.timestamp), h('span', {class: 'name'}, '(' + ageText(b.timestamp) + ')'))),
      kv('Proposer', 'proposer', h('span', null, addrLink(b.proposer, true), b.proposerName ? h('span', {class: 'name'}, b.proposerName) : null)),
      kv('Transactions', 'tx-count', fmtInt(b.txCount)),
      kv('Gas used', 'gas-used', fmtInt(b.gasUsed)),
      kv('Consensus round', 'round', fmtInt(b.round)),
      kv('Signed stake', 'signed-stake', h('span', null,
        share !== null ? h('span', {class: 'bar', title: share.toFixed(2) + ' %'}, h('span', {style: {width: Math.min(100, Math.max(0, share)) + '%'}})) : null,
        stake(b.signedStake), ' of ', stake(b.totalStake),
        share !== null ? h('span', {class: 'name'}, '(' + share.toFixed(2) + ' %)') : null)),
      kv('Signers', 'signers', signers.length
        ? h('div', {class: 'chips'}, signers.map((s) => h('span', {class: 'badge'}, String(s))))
        : dash()),
    ];

    const t = table('block-txs', ['#', 'Hash', 'From', 'To', ['Value', 'num'], ['Fee', 'num'], 'Status'],
      'This block has no transactions.');
    if (txsList.length) {
      t.tbody.replaceChildren(...txsList.filter((tx) => tx && typeof tx.hash === 'string').map((tx) => h('tr', {dataset: {hash: tx.hash}},
        h('td', {class: 'muted'}, fmtInt(tx.index)),
        h('td', null, txLink(tx.hash)),
        h('td', null, addrLink(tx.from)),
        h('td', null, addrLink(tx.to)),
        h('td', {class: 'num'}, amount(tx.value)),
        h('td', {class: 'num'}, amount(tx.fee)),
        h('td', null, statusBadge(tx.status)))));
    }

    app.replaceChildren(
      h('section', {id: 'block-detail', 'data-height': String(b.height), 'data-hash': b.hash || ''},
        h('div', {class: 'page-head'}, h('h1', null, 'Block ' + fmtInt(b.height)), pager),
        h('section', {class: 'panel'}, h('dl', {class: 'kv'}, rows)),
        panel('Transactions', h('span', {class: 'hint'}, fmtInt(txsList.length) + ' in this block'), t.table)));
  }

  function kv(label, field, value) {
    return h('div', {class: 'kv-row', 'data-field': field},
      h('dt', null, label),
      h('dd', null, value === null || value === undefined ? dash() : value));
  }

  // ---------------------------------------------------------------- tx

  async function renderTx(view, hash) {
    if (!RE_HASH.test(hash)) {
      renderMessage('Invalid transaction hash', 'A transaction hash is 0x followed by 64 hex digits.');
      return;
    }
    const t = await load(view, '/api/tx/' + encodeURIComponent(hash.toLowerCase()), 'transaction',
      'The explorer knows no transaction with hash ' + hash.toLowerCase() + ' (yet).');
    if (!t || !view.active) return;
    const rows = [
      kv('Hash', 'hash', h('span', {class: 'mono'}, t.hash || '—')),
      kv('Status', 'status', statusBadge(t.status)),
      kv('Block', 'block', h('span', null, blockLink(t.blockHeight),
        isNum(t.index) ? h('span', {class: 'name'}, 'index ' + fmtInt(t.index)) : null)),
      kv('Block hash', 'block-hash', blockHashLink(t.blockHash, true)),
      kv('Time', 'time', h('span', null, isoTime(t.timestamp), h('span', {class: 'name'}, '(' + ageText(t.timestamp) + ')'))),
      kv('From', 'from', addrLink(t.from, true)),
      kv('To', 'to', addrLink(t.to, true)),
      kv('Value', 'value', amount(t.value)),
      kv('Fee', 'fee', amount(t.fee)),
      kv('Gas price', 'gas-price', gasPrice(t.gasPrice)),
      kv('Nonce', 'nonce', fmtInt(t.nonce)),
    ];
    app.replaceChildren(
      h('section', {id: 'tx-detail', 'data-hash': t.hash || hash.toLowerCase()},
        h('div', {class: 'page-head'}, h('h1', null, 'Transaction'), h('span', {class: 'sub'}, t.hash || '')),
        h('section', {class: 'panel'}, h('dl', {class: 'kv'}, rows))));
  }

  // ---------------------------------------------------------------- address

  async function renderAddress(view, addr, query) {
    if (!RE_ADDRESS.test(addr)) {
      renderMessage('Invalid address', 'An address is 0x followed by 40 hex digits.');
      return;
    }
    const address = addr.toLowerCase();
    const before = query.get('before');
    let path = '/api/address/' + encodeURIComponent(address) + '?limit=' + ADDRESS_PAGE_SIZE;
    if (before) path += '&before=' + encodeURIComponent(before);
    const a = await load(view, path, 'address', 'The explorer knows nothing about ' + address + '.');
    if (!a || !view.active) return;
    const self = (typeof a.address === 'string' ? a.address : address).toLowerCase();
    const list = Array.isArray(a.transactions) ? a.transactions : [];

    const t = table('address-txs', ['Hash', 'Block', 'Age', '', 'Counterparty', ['Value', 'num'], ['Fee', 'num'], 'Status'],
      before ? 'No older transactions.' : 'No transactions for this address.');
    if (list.length) {
      t.tbody.replaceChildren(...list.filter((tx) => tx && typeof tx.hash === 'string').map((tx) => {
        const from = String(tx.from || '').toLowerCase();
        const to = String(tx.to || '').toLowerCase();
        const dir = from === self && to === self ? 'self' : from === self ? 'out' : 'in';
        const other = dir === 'in' ? tx.from : tx.to;
        return h('tr', {dataset: {hash: tx.hash}},
          h('td', null, txLink(tx.hash)),
          h('td', null, blockLink(tx.blockHeight)),
          h('td', null, age(tx.timestamp)),
          h('td', null, h('span', {class: 'badge ' + dir}, dir)),
          h('td', null, addrLink(other)),
          h('td', {class: 'num'}, amount(tx.value)),
          h('td', {class: 'num'}, amount(tx.fee)),
          h('td', null, statusBadge(tx.status)));
      }));
    }

    const base = '#/address/' + encodeURIComponent(self);
    const next = a.next === null || a.next === undefined ? null : String(a.next);
    const pager = h('div', {class: 'pager'},
      before ? h('a', {class: 'button', href: base, 'data-page': 'newest'}, '« Newest') : null,
      next !== null ? h('a', {class: 'button', href: base + '?before=' + encodeURIComponent(next), 'data-page': 'older'}, 'Older ›') : null);

    const sent = isNum(a.sent) ? a.sent : null;
    const received = isNum(a.received) ? a.received : null;
    const summary = h('section', {class: 'summary'},
      summaryCard('Sent', 'address-sent', fmtInt(sent)),
      summaryCard('Received', 'address-received', fmtInt(received)),
      summaryCard('Sent + received', 'address-total', sent !== null && received !== null ? fmtInt(sent + received) : '—'));

    app.replaceChildren(
      h('section', {id: 'address-detail', 'data-address': self},
        h('div', {class: 'page-head'}, h('h1', null, 'Address'), h('span', {class: 'sub'}, self)),
        summary,
        panel('Transactions', h('span', {class: 'hint'}, before ? 'older page' : 'newest first'), t.table,
          h('div', {class: 'panel-body'}, pager))));
  }

  function summaryCard(label, id, value) {
    return h('div', {class: 'stat'}, h('div', {class: 'stat-label'}, label), h('div', {class: 'stat-value', id}, value));
  }

  // ---------------------------------------------------------------- validators

  function renderValidators(view) {
    const refreshed = h('span', {class: 'hint'}, '');
    const board = table('leaderboard', [['Rank', 'num'], 'Validator', ['Reputation', 'num'], ['Stake', 'num'], ['Blocks proposed', 'num']],
      'Loading…');
    const list = table('validators', ['Name', 'Address', 'Status', ['Stake', 'num'], ['Reputation', 'num'], ['Committee', 'num'],
      ['Blocks proposed', 'num'], 'Participation'], 'Loading…');
    app.replaceChildren(
      h('div', {class: 'page-head'}, h('h1', null, 'Validators')),
      panel('Leaderboard', refreshed, board.table),
      panel('All validators', h('span', {class: 'hint'}, ''), list.table));
    const listHint = list.table.closest('.panel').querySelector('.hint');

    view.poll(async () => {
      const results = await Promise.allSettled([view.fetch('/api/leaderboard?limit=50'), view.fetch('/api/validators')]);
      if (!view.active) return;
      const [lb, vs] = results;
      if (lb.status === 'fulfilled') {
        const entries = (Array.isArray(lb.value.leaderboard) ? lb.value.leaderboard : []).filter((e) => e && e.id !== undefined);
        refreshed.textContent = isNum(lb.value.refreshedAt) ? 'refreshed ' + ageText(lb.value.refreshedAt) : 'not computed yet';
        if (isNum(lb.value.refreshedAt)) refreshed.title = isoTime(lb.value.refreshedAt);
        if (entries.length) {
          board.tbody.replaceChildren(...entries.map((e) => h('tr', {dataset: {id: e.id}},
            h('td', {class: 'num'}, fmtInt(e.rank)),
            h('td', null, addrLink(e.id, false, e.name || undefined), e.name ? h('span', {class: 'muted mono'}, ' ' + shortHex(e.id, 8, 6)) : null),
            h('td', {class: 'num'}, fmtFixed(e.reputation, 1)),
            h('td', {class: 'num'}, stake(e.stake)),
            h('td', {class: 'num'}, fmtInt(e.blocksProposed)))));
        } else setEmpty(board.tbody, board.columns, 'The leaderboard is empty.');
      }
      if (vs.status === 'fulfilled') {
        const entries = (Array.isArray(vs.value.validators) ? vs.value.validators : []).filter((v) => v && v.id !== undefined);
        listHint.textContent = fmtInt(entries.length) + ' validators';
        if (entries.length) {
          list.tbody.replaceChildren(...entries.map((v) => h('tr', {dataset: {id: v.id}},
            h('td', null, v.name ? String(v.name) : dash()),
            h('td', null, addrLink(v.address || v.id)),
            h('td', null, statusBadge(v.status)),
            h('td', {class: 'num'}, stake(v.stake)),
            h('td', {class: 'num'}, fmtFixed(v.reputation, 1)),
            h('td', {class: 'num'}, fmtInt(v.committee)),
            h('td', {class: 'num'}, fmtInt(v.blocksProposed)),
            h('td', null, participation(v.participation)))));
        } else setEmpty(list.tbody, list.columns, 'No validators known.');
      }
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    }, VALIDATORS_POLL_MS);
  }

  function participation(p) {
    if (!isNum(p)) return dash();
    const pct = Math.max(0, Math.min(1, p)) * 100;
    return h('span', {class: 'nowrap', title: String(p)},
      h('span', {class: 'bar'}, h('span', {style: {width: pct.toFixed(1) + '%'}})),
      pct.toFixed(1) + ' %');
  }

  // ---------------------------------------------------------------- search

  let searchSeq = 0;

  function setSearchMessage(text, kind) {
    searchMessage.textContent = text || '';
    searchMessage.classList.toggle('info', kind === 'info');
    searchMessage.hidden = !text;
  }

  function searchGo(target) {
    searchInput.value = '';
    setSearchMessage('');
    navigate(target);
  }

  searchInput.addEventListener('input', () => setSearchMessage(''));
  searchInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') setSearchMessage('');
  });

  searchForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = searchInput.value.trim();
    const seq = ++searchSeq;
    if (q === '') {
      setSearchMessage('Type a block height, a transaction or block hash, or an address.');
      return;
    }
    if (RE_HEIGHT.test(q)) {
      searchGo('#/block/' + BigInt(q).toString());
      return;
    }
    if (RE_HASH.test(q)) {
      const hash = q.toLowerCase();
      setSearchMessage('Looking up ' + shortHex(hash) + '…', 'info');
      try {
        await api('/api/tx/' + encodeURIComponent(hash));
        if (seq === searchSeq) searchGo('#/tx/' + hash);
      } catch (err) {
        if (seq !== searchSeq) return;
        if (err instanceof ApiError && err.status === 404) searchGo('#/block/' + hash);
        else setSearchMessage(errorText(err));
      }
      return;
    }
    if (RE_ADDRESS.test(q)) {
      searchGo('#/address/' + q.toLowerCase());
      return;
    }
    setSearchMessage('Not a block height, a 0x hash (64 hex digits) or a 0x address (40 hex digits).');
  });

  // ---------------------------------------------------------------- router

  let current = null;

  function navigate(target) {
    if (location.hash === target) render();
    else location.hash = target;
  }

  function decode(part) {
    try {
      return decodeURIComponent(part);
    } catch (_) {
      return part;
    }
  }

  function parseRoute() {
    let raw = location.hash.replace(/^#/, '');
    if (!raw.startsWith('/')) raw = '/' + raw;
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    const parts = path.split('/').filter((p) => p !== '').map(decode);
    return {parts, query};
  }

  function setNav(name) {
    for (const a of document.querySelectorAll('#nav a')) {
      const on = a.dataset.nav === name;
      a.classList.toggle('active', on);
      if (on) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function render() {
    if (current) current.dispose();
    const view = new View();
    current = view;
    hideError();
    setSearchMessage('');
    footerStatus.textContent = '';
    const {parts, query} = parseRoute();
    const [name, arg] = parts;
    setNav(name === undefined ? 'home' : name);
    window.scrollTo(0, 0);
    let result;
    try {
      if (name === undefined) {
        document.title = 'BIZRA Explorer';
        result = renderHome(view);
      } else if (name === 'block' && arg !== undefined && parts.length === 2) {
        document.title = 'Block ' + arg + ' · BIZRA Explorer';
        result = renderBlock(view, arg);
      } else if (name === 'tx' && arg !== undefined && parts.length === 2) {
        document.title = 'Transaction · BIZRA Explorer';
        result = renderTx(view, arg);
      } else if (name === 'address' && arg !== undefined && parts.length === 2) {
        document.title = 'Address · BIZRA Explorer';
        result = renderAddress(view, arg, query);
      } else if (name === 'validators' && parts.length === 1) {
        document.title = 'Validators · BIZRA Explorer';
        result = renderValidators(view);
      } else {
        document.title = 'Not found · BIZRA Explorer';
        renderMessage('Page not found', 'There is no page at ' + location.hash + '.');
      }
    } catch (err) {
      showError(err);
    }
    if (result && typeof result.catch === 'function') {
      result.catch((err) => {
        if (view.active && !isAbort(err)) showError(err);
      });
    }
  }

  window.addEventListener('hashchange', render);
  render();
})();
