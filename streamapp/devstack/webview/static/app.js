// The dev stack's web view: the Diffusion topic tree, live, through the official JavaScript client
// (window.diffusion, from /vendor/diffusion.js), a form to set a topic's value, and the worker's
// connectors. Plain browser JavaScript, no build step.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const topics = new Map(); // path -> {type, value, count, at}
  let config = null;
  let writer = null; // {principal, password, session}: the session that sets values

  function describeError(error) {
    if (!error) return 'unknown error';
    if (error.reason !== undefined && error.id !== undefined) return `${error.reason} (reason ${error.id})`;
    if (error.message) return error.message;
    return String(error);
  }

  function typeName(type) {
    const name = diffusion.topics.TopicType[type];
    return typeof name === 'string' ? name.toLowerCase() : String(type);
  }

  function formatValue(value) {
    if (value === null || value === undefined) return '(no value)';
    if (typeof value === 'object' && typeof value.get === 'function') {
      const inner = value.get();
      if (inner instanceof Uint8Array) {
        const hex = Array.from(inner.slice(0, 32), (b) => b.toString(16).padStart(2, '0')).join(' ');
        return `${inner.length} bytes: ${hex}${inner.length > 32 ? ' …' : ''}`;
      }
      return JSON.stringify(inner);
    }
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  }

  // --- the topic tree ---------------------------------------------------------------------------

  let renderPending = false;
  const flashing = new Set();

  function scheduleRender(path) {
    if (path) flashing.add(path);
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(render);
  }

  function cell(row, className, text) {
    const td = row.insertCell();
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function render() {
    renderPending = false;
    const body = $('topics').tBodies[0];
    body.replaceChildren();
    const shownBranches = new Set();
    for (const path of Array.from(topics.keys()).sort()) {
      const parts = path.split('/');
      // Parent branches that hold no topic of their own, once each.
      for (let depth = 1; depth < parts.length; depth++) {
        const branch = parts.slice(0, depth).join('/');
        if (shownBranches.has(branch) || topics.has(branch)) continue;
        shownBranches.add(branch);
        const row = body.insertRow();
        row.className = 'branch';
        row.dataset.branch = branch;
        const name = cell(row, 'name', parts[depth - 1] + '/');
        name.style.paddingLeft = `${0.4 + (depth - 1) * 1.1}rem`;
        name.colSpan = 5;
      }
      const topic = topics.get(path);
      const row = body.insertRow();
      row.className = 'topic' + (flashing.has(path) ? ' flash' : '');
      row.dataset.path = path;
      const name = cell(row, 'name', parts[parts.length - 1]);
      name.title = path;
      name.style.paddingLeft = `${0.4 + (parts.length - 1) * 1.1}rem`;
      cell(row, 'type', typeName(topic.type));
      cell(row, 'value', topic.count ? formatValue(topic.value) : '(no value)');
      cell(row, 'count', String(topic.count));
      cell(row, 'time', topic.at ? topic.at.toLocaleTimeString() : '');
    }
    flashing.clear();
    $('no-topics').hidden = topics.size > 0;
  }

  async function watchTopics() {
    const badge = $('session');
    try {
      // Anonymous: reading needs no credentials on the dev stack's emulator.
      const session = await diffusion.connect({ ...config.diffusion });
      badge.textContent = `connected to ${config.diffusion.host}:${config.diffusion.port} (session ${session.sessionId})`;
      badge.className = 'badge connected';
      session.on('close', () => {
        badge.textContent = 'disconnected (reload to reconnect)';
        badge.className = 'badge failed';
      });
      const stream = session.addStream('?.*//', diffusion.datatypes.any());
      stream.on('subscribe', (path, spec) => {
        if (!topics.has(path)) topics.set(path, { type: spec.type, value: undefined, count: 0, at: null });
        scheduleRender();
      });
      stream.on('value', (path, spec, value) => {
        const topic = topics.get(path) || { type: spec.type, count: 0 };
        topic.type = spec.type;
        topic.value = value;
        topic.count += 1;
        topic.at = new Date();
        topics.set(path, topic);
        scheduleRender(path);
      });
      stream.on('unsubscribe', (path) => {
        topics.delete(path);
        scheduleRender();
      });
      await session.select('?.*//');
    } catch (error) {
      badge.textContent = `cannot connect to Diffusion: ${describeError(error)}`;
      badge.className = 'badge failed';
    }
  }

  // --- setting a value --------------------------------------------------------------------------

  function parseValue(type, text) {
    switch (type) {
      case 'JSON': return JSON.parse(text);
      case 'STRING': return text;
      case 'INT64': {
        if (!/^-?\d+$/.test(text.trim())) throw new Error(`not an integer: ${text}`);
        return Number(text.trim());
      }
      case 'DOUBLE': {
        const number = Number(text.trim());
        if (text.trim() === '' || Number.isNaN(number)) throw new Error(`not a number: ${text}`);
        return number;
      }
      default: throw new Error(`unsupported type ${type}`);
    }
  }

  const DATATYPES = {
    JSON: () => diffusion.datatypes.json(),
    STRING: () => diffusion.datatypes.string(),
    INT64: () => diffusion.datatypes.int64(),
    DOUBLE: () => diffusion.datatypes.double(),
  };

  async function writerSession(principal, password) {
    if (writer && writer.principal === principal && writer.password === password) return writer.session;
    if (writer) writer.session.close();
    writer = null;
    const session = await diffusion.connect({ ...config.diffusion, principal, credentials: password });
    writer = { principal, password, session };
    return session;
  }

  async function setValue(event) {
    event.preventDefault();
    const result = $('set-result');
    const path = $('set-path').value.trim();
    const type = $('set-type').value;
    result.className = 'hint';
    result.textContent = `setting ${path}…`;
    try {
      const value = parseValue(type, $('set-value').value);
      const session = await writerSession($('set-principal').value.trim(), $('set-password').value);
      const specification = new diffusion.topics.TopicSpecification(diffusion.topics.TopicType[type]);
      await session.topicUpdate.set(path, DATATYPES[type](), value, { specification });
      result.className = 'ok';
      result.textContent = `${path} set at ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      result.className = 'failed';
      result.textContent = `could not set ${path}: ${describeError(error)}`;
    }
  }

  // --- connectors -------------------------------------------------------------------------------

  async function refreshConnectors() {
    const error = $('connectors-error');
    try {
      const response = await fetch('/api/connectors', { cache: 'no-store' });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
      const rows = $('connectors').tBodies[0];
      rows.replaceChildren();
      for (const connector of body.connectors) {
        const row = rows.insertRow();
        row.dataset.connector = connector.name;
        const name = cell(row, 'name', connector.name);
        name.title = `${connector.type}; tasks: ${connector.tasks.join(', ') || 'none'}` +
          (connector.diffusion ? `; Diffusion session ${connector.diffusion.state}` : '');
        cell(row, `state state-${connector.state}`, connector.state);
        cell(row, 'num in', String(connector.counters.records_in));
        cell(row, 'num delivered', String(connector.counters.delivered));
        cell(row, 'num failed', String(connector.counters.failed));
      }
      error.textContent = '';
    } catch (failure) {
      error.textContent = `connectors unavailable: ${describeError(failure)}`;
    }
  }

  async function start() {
    $('set-form').addEventListener('submit', setValue);
    if (typeof window.diffusion === 'undefined') {
      $('session').textContent = 'the Diffusion JavaScript client is not installed: run scripts/setup.sh';
      $('session').className = 'badge failed';
    } else {
      config = await (await fetch('/config.json', { cache: 'no-store' })).json();
      diffusion.log('warn');
      watchTopics();
    }
    refreshConnectors();
    setInterval(refreshConnectors, 2000);
  }

  start();
})();
