// Icons as inline SVG, drawn with the text colour. Emoji were used before; they render as empty
// boxes where no colour-emoji font is installed (many Linux desktops, kiosks, CI browsers).

const SVG = 'http://www.w3.org/2000/svg';

// 24x24 outline drawings: each is a list of [element, attributes].
const DRAWINGS = {
  home: [['path', { d: 'M3 11l9-8 9 8' }], ['path', { d: 'M5 10v10h5v-6h4v6h5V10' }]],
  card: [['rect', { x: 2, y: 5, width: 20, height: 14, rx: 2 }], ['path', { d: 'M2 10h20M6 15h4' }]],
  send: [['path', { d: 'M22 2L11 13' }], ['path', { d: 'M22 2l-7 20-4-9-9-4z' }]],
  snowflake: [['path', { d: 'M12 2v20M3.3 7l17.4 10M3.3 17L20.7 7M9 4l3 2 3-2M9 20l3-2 3 2' }]],
  cart: [['path', { d: 'M2 3h3l2.5 12h11l2.5-9H6' }], ['circle', { cx: 9, cy: 20, r: 1.5 }], ['circle', { cx: 18, cy: 20, r: 1.5 }]],
  cutlery: [['path', { d: 'M6 2v8a2 2 0 002 2h0a2 2 0 002-2V2M8 2v20' }], ['path', { d: 'M18 22V2c-2 1.5-3 4.5-3 8h3' }]],
  train: [['rect', { x: 5, y: 3, width: 14, height: 14, rx: 3 }], ['path', { d: 'M5 10h14M9 21l2-4M15 21l-2-4' }], ['circle', { cx: 9, cy: 13.5, r: 0.8 }], ['circle', { cx: 15, cy: 13.5, r: 0.8 }]],
  bag: [['path', { d: 'M5 8h14l-1 13H6z' }], ['path', { d: 'M9 8a3 3 0 016 0' }]],
  film: [['rect', { x: 3, y: 4, width: 18, height: 16, rx: 2 }], ['path', { d: 'M7 4v16M17 4v16M3 9h4M3 15h4M17 9h4M17 15h4' }]],
  receipt: [['path', { d: 'M6 2h12v20l-3-2-3 2-3-2-3 2z' }], ['path', { d: 'M9 7h6M9 11h6M9 15h4' }]],
  jar: [['path', { d: 'M7 3h10M8 3v3L6 9v10a2 2 0 002 2h8a2 2 0 002-2V9l-2-3V3' }], ['path', { d: 'M6 12h12' }]],
  coin: [['circle', { cx: 12, cy: 12, r: 9 }], ['path', { d: 'M14.5 8.5H11a2 2 0 000 4h2a2 2 0 010 4H9.5M12 6.5v11' }]],
  sun: [['circle', { cx: 12, cy: 12, r: 4 }], ['path', { d: 'M12 2v2M12 20v2M2 12h2M20 12h2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4' }]],
  umbrella: [['path', { d: 'M2 12a10 10 0 0120 0z' }], ['path', { d: 'M12 12v7a2 2 0 004 0' }]],
  bike: [['circle', { cx: 6, cy: 16, r: 4 }], ['circle', { cx: 18, cy: 16, r: 4 }], ['path', { d: 'M6 16l4-8h5l3 8M10 8l2 8h-6M14 5h2' }]],
  tree: [['path', { d: 'M12 2l7 11H5z' }], ['path', { d: 'M12 13v9M9 22h6' }]],
  ring: [['circle', { cx: 12, cy: 15, r: 6 }], ['path', { d: 'M9 3h6l-3 6z' }]],
  gift: [['rect', { x: 3, y: 8, width: 18, height: 4 }], ['path', { d: 'M5 12v9h14v-9M12 8v13M12 8C10 4 7 4 7 6s3 2 5 2c2 0 5 0 5-2s-3-2-5 2' }]],
  plane: [['path', { d: 'M2 13l20-9-6 17-4-7z' }], ['path', { d: 'M12 14l10-10' }]],
};

export const CATEGORY_ICONS = {
  groceries: 'cart',
  eating_out: 'cutlery',
  transport: 'train',
  shopping: 'bag',
  entertainment: 'film',
  bills: 'receipt',
  general: 'card',
  transfers: 'send',
  pot: 'jar',
  income: 'coin',
};

export const POT_ICONS = ['sun', 'umbrella', 'bike', 'tree', 'home', 'ring', 'gift', 'plane'];

/** An <svg class="icon"> drawing of name (a card when the name is unknown), hidden from screen readers. */
export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.dataset.icon = DRAWINGS[name] ? name : 'card';
  for (const [tag, attributes] of DRAWINGS[svg.dataset.icon]) {
    const shape = document.createElementNS(SVG, tag);
    for (const [attribute, value] of Object.entries(attributes)) shape.setAttribute(attribute, String(value));
    svg.append(shape);
  }
  return svg;
}
