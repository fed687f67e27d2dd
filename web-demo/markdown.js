// A message's Markdown as DOM nodes, safe by construction: nothing is parsed as HTML
// (every piece of text becomes a text node), links are kept only for http(s) and mailto.
// It covers what chat messages use: headings, paragraphs and line breaks, fenced code,
// bullet and numbered lists, quotes, `code`, **bold**, *italic*, [links](url), and images
// ![alt](…), shown by name and never fetched.

const SAFE_URL = /^(https?:|mailto:)/i;

/** Inline spans of one line of text, as nodes. */
function inline(text) {
  const out = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(!?\[[^\]]*\]\([^)\s]+\))/g;
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > at) out.push(document.createTextNode(text.slice(at, m.index)));
    const s = m[0];
    if (m[1]) out.push(Object.assign(document.createElement('code'), { textContent: s.slice(1, -1) }));
    else if (m[2]) out.push(wrap('strong', s.slice(2, -2)));
    else if (m[3]) out.push(wrap('em', s.slice(1, -1)));
    else if (s.startsWith('!')) {
      // An image (Sila's `fref:` file references among them) is named, never loaded.
      const [, alt] = /^!\[([^\]]*)\]/.exec(s);
      out.push(Object.assign(document.createElement('span'), { className: 'image-ref', textContent: `🖼 ${alt || 'image'}` }));
    } else {
      const [, label, url] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(s);
      if (SAFE_URL.test(url)) {
        const a = Object.assign(document.createElement('a'), { href: url, rel: 'noopener noreferrer', target: '_blank' });
        a.append(...inline(label));
        out.push(a);
      } else out.push(document.createTextNode(s));
    }
    at = m.index + s.length;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}
function wrap(tag, text) {
  const e = document.createElement(tag);
  e.append(...inline(text));
  return e;
}

/** The Markdown `text` as a fragment of block elements. */
export function renderMarkdown(text) {
  const frag = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      const code = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) code.push(lines[i]);
      i++;
      const pre = document.createElement('pre');
      pre.append(Object.assign(document.createElement('code'), { textContent: code.join('\n') }));
      if (fence[2]) pre.dataset.lang = fence[2];
      frag.append(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      frag.append(wrap(`h${Math.min(6, heading[1].length + 3)}`, heading[2]));
      i++;
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/;
    if (item.test(line)) {
      const ordered = /\d/.test(item.exec(line)[1]);
      const list = document.createElement(ordered ? 'ol' : 'ul');
      for (; i < lines.length && item.test(lines[i]); i++) list.append(wrap('li', lines[i].replace(item, '')));
      frag.append(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quote = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quote.push(lines[i].replace(/^\s*>\s?/, ''));
      const q = document.createElement('blockquote');
      q.append(renderMarkdown(quote.join('\n')));
      frag.append(q);
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    // A paragraph: this line (whatever it is: every line is consumed) and the plain
    // lines after it.
    const para = [line];
    for (i++; i < lines.length && lines[i].trim() && !/^\s*(```|~~~|#{1,6}\s|>|[-*+]\s|\d+[.)]\s)/.test(lines[i]); i++) para.push(lines[i]);
    const p = document.createElement('p');
    para.forEach((l, k) => {
      if (k) p.append(document.createElement('br'));
      p.append(...inline(l));
    });
    frag.append(p);
  }
  return frag;
}
