// The chat webview. It shows HTML the extension rendered with its safe
// markdown renderer (model text is escaped there) and sends back what the
// user does: questions, stop, clear, citation clicks, code block actions.
// @ts-check
(function () {
  // eslint-disable-next-line no-undef
  const vscode = acquireVsCodeApi();
  const messages = /** @type {HTMLElement} */ (document.getElementById('messages'));
  const empty = /** @type {HTMLElement} */ (document.getElementById('empty'));
  const context = /** @type {HTMLElement} */ (document.getElementById('context'));
  const input = /** @type {HTMLTextAreaElement} */ (document.getElementById('input'));
  const send = /** @type {HTMLButtonElement} */ (document.getElementById('send'));
  const stop = /** @type {HTMLButtonElement} */ (document.getElementById('stop'));
  const clear = /** @type {HTMLButtonElement} */ (document.getElementById('clear'));
  /** @type {Map<string, HTMLElement>} */
  const byId = new Map();

  const saved = vscode.getState() || {};
  if (typeof saved.draft === 'string') input.value = saved.draft;

  function nearBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  }

  /** @param {{id: string, role: string, html: string, status: string, error?: string, footer?: string}} m */
  function upsert(m) {
    const stick = nearBottom();
    let el = byId.get(m.id);
    if (!el) {
      el = document.createElement('article');
      el.dataset.id = m.id;
      const body = document.createElement('div');
      body.className = 'body';
      el.appendChild(body);
      const err = document.createElement('div');
      err.className = 'error-text';
      el.appendChild(err);
      const foot = document.createElement('div');
      foot.className = 'footer';
      el.appendChild(foot);
      messages.appendChild(el);
      byId.set(m.id, el);
    }
    el.className = `message ${m.role} ${m.status}`;
    const body = /** @type {HTMLElement} */ (el.querySelector('.body'));
    // Rendered by the extension from escaped text: see src/core/chat/markdown.ts.
    body.innerHTML = m.html || (m.status === 'streaming' ? '<p class="thinking">…</p>' : '');
    /** @type {HTMLElement} */ (el.querySelector('.error-text')).textContent = m.error ? m.error : '';
    const footer = m.status === 'stopped' ? 'stopped' : m.footer || '';
    /** @type {HTMLElement} */ (el.querySelector('.footer')).textContent = footer;
    empty.hidden = byId.size > 0;
    if (stick) messages.scrollTop = messages.scrollHeight;
  }

  /** @param {boolean} busy */
  function setBusy(busy) {
    stop.hidden = !busy;
    document.body.classList.toggle('busy', busy);
  }

  /** @param {{text: string, tooltip: string, level: string}} c */
  function setContext(c) {
    context.textContent = c.text;
    context.title = c.tooltip;
    context.className = `context ${c.level}`;
  }

  function ask() {
    const text = input.value.trim();
    if (!text) return;
    vscode.postMessage({ type: 'ask', text });
    input.value = '';
    vscode.setState({ draft: '' });
  }

  window.addEventListener('message', (event) => {
    const m = event.data;
    switch (m.type) {
      case 'init':
        messages.textContent = '';
        byId.clear();
        for (const x of m.messages) upsert(x);
        empty.hidden = byId.size > 0;
        setBusy(m.busy);
        setContext(m.context);
        messages.scrollTop = messages.scrollHeight;
        break;
      case 'message':
        upsert(m.message);
        break;
      case 'cleared':
        messages.textContent = '';
        byId.clear();
        empty.hidden = false;
        break;
      case 'busy':
        setBusy(m.busy);
        break;
      case 'context':
        setContext(m.context);
        break;
      case 'prefill':
        input.value = m.text;
        input.focus();
        break;
    }
  });

  messages.addEventListener('click', (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    const cite = target.closest('a.cite');
    if (cite instanceof HTMLElement) {
      event.preventDefault();
      const end = cite.dataset.endLine ? Number(cite.dataset.endLine) : undefined;
      vscode.postMessage({ type: 'open', path: cite.dataset.path, line: Number(cite.dataset.line || 0), ...(end ? { endLine: end } : {}) });
      return;
    }
    const action = target.closest('button.code-action');
    if (action instanceof HTMLElement) {
      const msg = action.closest('article.message');
      if (msg instanceof HTMLElement) {
        vscode.postMessage({ type: 'code', action: action.dataset.action, messageId: msg.dataset.id, index: Number(action.dataset.index) });
        if (action.dataset.action === 'copy') {
          action.textContent = 'Copied';
          setTimeout(() => (action.textContent = 'Copy'), 1200);
        }
      }
    }
  });

  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      ask();
    }
  });
  input.addEventListener('input', () => vscode.setState({ draft: input.value }));
  send.addEventListener('click', ask);
  stop.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
  clear.addEventListener('click', () => vscode.postMessage({ type: 'clear' }));

  vscode.postMessage({ type: 'ready' });
})();
