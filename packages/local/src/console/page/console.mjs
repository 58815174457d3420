// The floodgate-local console: renders the state the endpoint streams (server-sent events from
// /_floodgate/console/events) and sends the few changes it offers (redrive, mapping enable/disable and
// MaximumConcurrency) to /_floodgate/console/..., which calls the endpoint's AWS APIs. Every value is set
// with textContent: message bodies and log lines are data, never markup.

const $ = (sel) => document.querySelector(sel);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

function table(headers, rows) {
  if (rows.length === 0) return el('p', { class: 'empty' }, 'none');
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))), el('tbody', {}, rows));
}
const num = (field, value) => el('td', { class: 'n', 'data-field': field }, String(value));

function flash(message, error = false) {
  const f = $('#flash');
  f.textContent = message;
  f.className = error ? 'error' : '';
}

async function change(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-floodgate-console': '1' }, body: JSON.stringify(body ?? {}) });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer?.error ? `${answer.error.code}: ${answer.error.message}` : `HTTP ${res.status}`);
  return answer;
}

function renderQueues(queues) {
  const rows = [];
  for (const q of queues) {
    const isDlq = q.sourceQueues.length > 0;
    rows.push(
      el(
        'tr',
        { 'data-queue': q.name },
        el('td', {}, el('span', { class: isDlq ? 'dlq' : '' }, q.name), isDlq ? el('small', {}, ` dead-letter queue of ${q.sourceQueues.join(', ')}`) : q.deadLetterQueue ? el('small', {}, ` → ${q.deadLetterQueue}`) : ''),
        num('visible', q.visible),
        num('inFlight', q.inFlight),
        num('delayed', q.delayed),
        num('deadLettered', q.deadLettered ?? '–'),
        el(
          'td',
          {},
          isDlq
            ? el(
                'button',
                {
                  'data-action': 'redrive',
                  disabled: q.visible + q.inFlight === 0 || q.redrive?.status === 'RUNNING',
                  onclick: async () => {
                    try {
                      const r = await change(`/_floodgate/console/queues/${encodeURIComponent(q.name)}/redrive`);
                      flash(`redrive of ${q.name} started (StartMessageMoveTask): its messages go back to ${r.destination ?? "their source queue"}`);
                    } catch (err) {
                      flash(`redrive of ${q.name} failed: ${err.message}`, true);
                    }
                  },
                },
                'Redrive',
              )
            : '',
          q.redrive ? el('small', { 'data-field': 'redrive' }, ` last move task: ${q.redrive.status}, ${q.redrive.moved}${q.redrive.toMove !== undefined ? `/${q.redrive.toMove}` : ''} moved${q.redrive.failureReason ? ` (${q.redrive.failureReason})` : ''}`) : '',
        ),
      ),
    );
    if (isDlq && q.messages && q.messages.length > 0) {
      rows.push(
        el(
          'tr',
          { class: 'messages-row' },
          el(
            'td',
            { colspan: 6 },
            el(
              'div',
              { class: 'messages' },
              table(
                ['message', 'ErrorClass', 'ErrorReason', 'receives', 'dead-lettered at', 'body'],
                q.messages.map((m) =>
                  el(
                    'tr',
                    { 'data-message': m.messageId },
                    el('td', {}, el('code', {}, m.messageId)),
                    el('td', { 'data-field': 'errorClass' }, m.errorClass ?? '–'),
                    el('td', { 'data-field': 'errorReason', class: 'reason' }, m.errorReason ?? (Object.keys(m.attributes).length ? Object.entries(m.attributes).map(([k, v]) => `${k}=${v}`).join(', ') : '(no reason: dead-lettered by maxReceiveCount)')),
                    // The runtime's ReceiveCount (receives/maxReceiveCount when it dead-lettered the message), else the DLQ's own count.
                    el('td', { class: 'n' }, m.attributes.ReceiveCount ?? String(m.receiveCount)),
                    el('td', {}, m.sentAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')),
                    el('td', {}, el('code', {}, m.body)),
                  ),
                ),
              ),
            ),
          ),
        ),
      );
    }
  }
  return table(['queue', 'visible', 'in flight', 'delayed', 'dead-lettered', ''], rows);
}

/** A structured (JSON) log line in short: level, message, and an error's class and reason when it names one. */
function shortLine(l) {
  const time = l.time.slice(11, 23);
  if (!l.message.startsWith('{')) return `${time} ${l.message}`;
  try {
    const j = JSON.parse(l.message);
    const error = j.errorClass ?? j.errorType;
    const reason = j.errorReason ?? j.errorMessage;
    if (typeof j.message !== 'string' && error === undefined) return `${time} ${l.message}`;
    return `${time} ${j.level ?? ''} ${j.message ?? ''}${error !== undefined ? ` ${error}` : ''}${reason !== undefined ? `: ${reason}` : ''}`.replace(/\s+/g, ' ');
  } catch {
    return `${time} ${l.message}`;
  }
}

function renderFunctions(functions) {
  return table(
    ['function', 'in flight / cap', 'invocations', 'errors', 'timeouts', 'recent errors and log tail'],
    functions.map((f) =>
      el(
        'tr',
        { 'data-function': f.name },
        el('td', {}, f.name, el('br'), el('small', {}, f.logicalId)),
        el('td', { class: 'n', 'data-field': 'inFlight' }, `${f.inFlight} / ${f.reservedConcurrency ?? 'unreserved'}`),
        num('invocations', f.invocations),
        num('errors', f.errors),
        num('timeouts', f.timeouts),
        el(
          'td',
          {},
          f.recentErrors.length ? el('pre', { class: 'errors', 'data-field': 'recentErrors' }, f.recentErrors.map(shortLine).join('\n')) : el('small', { class: 'empty' }, 'no recent errors'),
          el('details', { open: openLogs.has(f.name), ontoggle: (e) => (e.target.open ? openLogs.add(f.name) : openLogs.delete(f.name)) }, el('summary', {}, `log tail (${f.logTail.length} lines)`), el('pre', { class: 'log' }, f.logTail.map((l) => `${l.time.slice(11, 23)} ${l.message}`).join('\n'))),
        ),
      ),
    ),
  );
}
const openLogs = new Set();

// The MaximumConcurrency inputs live across renders, so typing is not lost to the next update.
const concurrencyInputs = new Map();
function concurrencyInput(m) {
  let input = concurrencyInputs.get(m.uuid);
  if (!input) {
    input = el('input', { type: 'number', min: 2, max: 1000, 'data-field': 'maximumConcurrencyInput', 'aria-label': `MaximumConcurrency of ${m.logicalId}` });
    concurrencyInputs.set(m.uuid, input);
  }
  if (document.activeElement !== input) input.value = m.maximumConcurrency ?? '';
  return input;
}

function renderMappings(mappings) {
  return table(
    ['mapping', 'queue → function', 'state', 'in flight / cap', 'MaximumConcurrency', 'batch', 'invocations', 'failed messages', ''],
    mappings.map((m) => {
      const input = concurrencyInput(m);
      return el(
        'tr',
        { 'data-mapping': m.logicalId, 'data-uuid': m.uuid },
        el('td', {}, m.logicalId),
        el('td', {}, `${m.queue} → ${m.functionName}`),
        el('td', { 'data-field': 'state', class: `state-${m.state}` }, m.state),
        el('td', { class: 'n', 'data-field': 'inFlight' }, `${m.inFlight} / ${m.cap}`),
        el(
          'td',
          {},
          el('span', { 'data-field': 'maximumConcurrency' }, m.maximumConcurrency ?? 'none'),
          ' ',
          input,
          el(
            'button',
            {
              'data-action': 'set-concurrency',
              onclick: async () => {
                const v = input.value.trim();
                try {
                  await change(`/_floodgate/console/mappings/${encodeURIComponent(m.uuid)}`, { maximumConcurrency: v === '' ? null : Number(v) });
                  flash(`${m.logicalId}: MaximumConcurrency ${v === '' ? 'removed' : `set to ${v}`}`);
                  input.blur();
                } catch (err) {
                  flash(`${m.logicalId}: ${err.message}`, true);
                }
              },
            },
            'Set',
          ),
        ),
        num('batchSize', m.batchSize),
        num('invocations', m.invocations),
        num('messagesFailed', m.messagesFailed),
        el(
          'td',
          {},
          el(
            'button',
            {
              'data-action': m.enabled ? 'disable' : 'enable',
              onclick: async () => {
                try {
                  await change(`/_floodgate/console/mappings/${encodeURIComponent(m.uuid)}`, { enabled: !m.enabled });
                  flash(`${m.logicalId} ${m.enabled ? 'disabled' : 'enabled'}`);
                } catch (err) {
                  flash(`${m.logicalId}: ${err.message}`, true);
                }
              },
            },
            m.enabled ? 'Disable' : 'Enable',
          ),
        ),
      );
    }),
  );
}

function render(state) {
  $('#stack').textContent = state.stack ? `stack ${state.stack.name} (${state.stack.region}) at ${state.endpoint}` : `endpoint ${state.endpoint ?? ''}`;
  $('#updated').textContent = `updated ${new Date(state.at).toLocaleTimeString()}`;
  $('#notes').replaceChildren(...(state.notes ?? []).map((n) => el('li', {}, n)));
  const put = (id, node) => $(`#${id} .body`).replaceChildren(node);
  if (state.queues) put('queues', renderQueues(state.queues));
  if (state.functions) put('functions', renderFunctions(state.functions));
  if (state.mappings) put('mappings', renderMappings(state.mappings));
  if (state.topics) put('topics', table(['topic', 'confirmed subscriptions'], state.topics.map((t) => el('tr', { 'data-topic': t.name }, el('td', {}, t.name, el('br'), el('small', {}, t.arn)), num('subscriptions', t.subscriptions)))));
  if (state.rules)
    put('rules', table(['rule', 'bus', 'state', 'schedule', 'triggered', 'invocations', 'failed'], state.rules.map((r) => el('tr', { 'data-rule': r.name }, el('td', {}, r.name), el('td', {}, r.bus), el('td', {}, r.state), el('td', {}, r.schedule ?? ''), num('triggered', r.triggered), num('invocations', r.invocations), num('failed', r.failed)))));
  if (state.buckets) put('buckets', table(['bucket', 'objects'], state.buckets.map((b) => el('tr', { 'data-bucket': b.name }, el('td', {}, b.name), num('objects', `${b.objects}${b.more ? '+' : ''}`)))));
  document.body.dataset.updated = state.at;
}

function connect() {
  const live = $('#live');
  const source = new EventSource('/_floodgate/console/events');
  source.addEventListener('open', () => {
    live.textContent = 'live';
    live.className = 'live on';
  });
  source.addEventListener('state', (e) => render(JSON.parse(e.data)));
  // EventSource reconnects by itself (retry: 1000); say so meanwhile.
  source.addEventListener('error', () => {
    live.textContent = 'reconnecting';
    live.className = 'live off';
  });
}

connect();
