// Icons as inline SVG, drawn here so that no page depends on an emoji font (many phones
// and servers have none, and emoji differ between systems). Each icon is decorative
// (aria-hidden): the control it sits in carries the words.

const SVG = 'http://www.w3.org/2000/svg';

// 24 × 24 paths. `fill` icons are solid shapes; `stroke` icons are lines.
const ICONS = {
  heart: { fill: 'M12 20.6 4.3 13a5 5 0 0 1 7-7.1l.7.7.7-.7a5 5 0 0 1 7 7.1z' },
  fire: { fill: 'M12.5 2.5c.6 3.3 5.5 5.6 5.5 10.6a6 6 0 0 1-12 0c0-2.6 1.3-4.4 2.7-5.6.1 1.8.9 3 2.1 3.4-.4-3 .2-5.8 1.7-8.4z' },
  clap: { fill: 'M12 2.5l2 5.9 5.9 2-5.9 2-2 5.9-2-5.9-5.9-2 5.9-2zM19 15.5l.9 2.6 2.6.9-2.6.9-.9 2.6-.9-2.6-2.6-.9 2.6-.9z' },
  laugh: {
    stroke: 'M12 21.5a9.5 9.5 0 1 0 0-19 9.5 9.5 0 0 0 0 19zM7.5 13.5h9a4.5 4.5 0 0 1-9 0zM8 9.5l1.5-1 1.5 1M13 9.5l1.5-1 1.5 1',
  },
  wow: { stroke: 'M12 21.5a9.5 9.5 0 1 0 0-19 9.5 9.5 0 0 0 0 19zM12 17.5a2 2.5 0 1 0 0-5 2 2.5 0 0 0 0 5zM8.5 9h.01M15.5 9h.01' },
  eye: { stroke: 'M1.5 12S5.5 5 12 5s10.5 7 10.5 7-4 7-10.5 7S1.5 12 1.5 12zM12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z' },
  cart: { stroke: 'M2.5 3.5h2.6l2.3 11h10.4l2.2-7.5H6.2M9 20.5h.01M17 20.5h.01' },
  bag: { stroke: 'M4.5 7.5h15l-1 13h-13zM8.5 10V6.5a3.5 3.5 0 0 1 7 0V10' },
  bolt: { fill: 'M13.5 1.5 4 13.5h6.5l-1 9 9.5-12h-6.5z' },
  soundOff: { stroke: 'M3.5 9v6h4l5 4.5v-15l-5 4.5zM16 9.5l5 5M21 9.5l-5 5' },
  soundOn: { stroke: 'M3.5 9v6h4l5 4.5v-15l-5 4.5zM16 8.5a5 5 0 0 1 0 7M18.5 6a8.5 8.5 0 0 1 0 12' },
  close: { stroke: 'M6 6l12 12M18 6 6 18' },
  back: { stroke: 'M15 4.5 7.5 12l7.5 7.5' },
  send: { fill: 'M2.5 20.5 22 12 2.5 3.5l.01 6.6L16 12 2.51 13.9z' },
  pin: { fill: 'M14.5 2.5l7 7-2.1.7-3.6 3.6.4 4.7-1.4 1.4-4-4-5.3 5.3-1.1-1.1 5.3-5.3-4-4 1.4-1.4 4.7.4 3.6-3.6z' },
  clock: { stroke: 'M12 21.5a9.5 9.5 0 1 0 0-19 9.5 9.5 0 0 0 0 19zM12 7v5l3.5 2' },
  check: { stroke: 'M4.5 12.5l5 5 10-11' },
  bell: { stroke: 'M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 2h-15zM10 21h4' },
  gift: { stroke: 'M3.5 8.5h17v4h-17zM5 12.5v8h14v-8M12 8.5v12M12 8.5C10.5 5 7 4.5 7 6.5s3 2 5 2zM12 8.5c1.5-3.5 5-4 5-2s-3 2-5 2z' },
  live: { stroke: 'M12 14a2 2 0 1 0 0-4 2 2 0 0 0 0 4zM7.8 7.8a6 6 0 0 0 0 8.4M16.2 7.8a6 6 0 0 1 0 8.4M4.9 4.9a10 10 0 0 0 0 14.2M19.1 4.9a10 10 0 0 1 0 14.2' },
};

/**
 * An icon element: icon('heart'), icon('cart', { size: 20, className: 'x' }).
 * @param {keyof typeof ICONS} name
 */
export function icon(name, { size = 20, className = '' } = {}) {
  const spec = ICONS[name];
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name} ${className}`.trim());
  const path = document.createElementNS(SVG, 'path');
  if (spec.fill) {
    path.setAttribute('d', spec.fill);
    path.setAttribute('fill', 'currentColor');
  } else {
    path.setAttribute('d', spec.stroke);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', 'currentColor');
    path.setAttribute('stroke-width', '2');
    path.setAttribute('stroke-linecap', 'round');
    path.setAttribute('stroke-linejoin', 'round');
  }
  svg.append(path);
  return svg;
}

/** Replaces every `<i data-icon="name">` placeholder under `root` by its SVG icon. */
export function drawIcons(root = document) {
  for (const slot of root.querySelectorAll('i[data-icon]')) {
    const name = /** @type {keyof typeof ICONS} */ (slot.getAttribute('data-icon'));
    if (ICONS[name]) slot.replaceWith(icon(name, { size: Number(slot.getAttribute('data-size')) || 20 }));
  }
}
