// Small DOM helpers. Text always goes in through textContent, never innerHTML, so merchant names
// and references from the feed can never inject markup.

export const $ = (id) => document.getElementById(id);

/** Creates an element: h('li', { class: 'item', dataset: { testid: 'feed-item' } }, 'text', child). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function showError(element, error) {
  if (!error) {
    element.hidden = true;
    element.textContent = '';
    return;
  }
  element.textContent = describeError(error);
  element.hidden = false;
}

/** The most useful sentence of an API problem: the first field error, else the detail, else the title. */
export function describeError(error) {
  const problem = error?.problem;
  if (problem?.errors) {
    const first = Object.values(problem.errors)[0];
    if (Array.isArray(first) && first.length > 0) return first[0];
  }
  return problem?.detail || problem?.title || error?.message || 'Something went wrong.';
}

let toastTimer = 0;
export function toast(message) {
  const element = $('toast');
  element.textContent = message;
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { element.hidden = true; }, 3000);
}
