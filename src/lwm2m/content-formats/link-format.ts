/**
 * CoRE Link Format (content-format 40, RFC 6690), the payload of Register and Update:
 * `</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>,</5>;ver=1.1`. Commas and semicolons inside quoted
 * values do not separate.
 */
import { Lwm2mContentError } from './content-error';

export interface Link {
  target: string;
  attributes: Record<string, string | true>;
}

export function parseLinkFormat(text: string): Link[] {
  const links: Link[] = [];
  let index = 0;
  const fail = (problem: string): never => {
    throw new Lwm2mContentError(`link format: ${problem} at character ${index} of '${text}'`);
  };
  const skipSpaces = () => {
    while (text[index] === ' ' || text[index] === '\n' || text[index] === '\r' || text[index] === '\t')
      index += 1;
  };
  skipSpaces();
  if (index >= text.length) return links;
  for (;;) {
    skipSpaces();
    if (text[index] !== '<') fail("expected '<'");
    const close = text.indexOf('>', index);
    if (close < 0) fail("no closing '>'");
    const target = text.slice(index + 1, close);
    index = close + 1;
    const attributes: Record<string, string | true> = {};
    while (text[index] === ';') {
      index += 1;
      const nameMatch = /^[A-Za-z0-9!#$&+\-.^_`|~*]+/.exec(text.slice(index));
      if (!nameMatch) fail('expected an attribute name');
      const name = (nameMatch as RegExpExecArray)[0];
      index += name.length;
      if (text[index] !== '=') {
        attributes[name] = true;
        continue;
      }
      index += 1;
      if (text[index] === '"') {
        const end = text.indexOf('"', index + 1);
        if (end < 0) fail('unterminated quoted value');
        attributes[name] = text.slice(index + 1, end);
        index = end + 1;
      } else {
        const valueMatch = /^[^,;]*/.exec(text.slice(index)) as RegExpExecArray;
        attributes[name] = valueMatch[0];
        index += valueMatch[0].length;
      }
    }
    links.push({ target, attributes });
    skipSpaces();
    if (index >= text.length) return links;
    if (text[index] !== ',') fail("expected ',' between links");
    index += 1;
  }
}

export function formatLinkFormat(links: Link[]): string {
  return links
    .map(({ target, attributes }) => {
      const parts = Object.entries(attributes).map(([name, value]) =>
        value === true ? name : /^[0-9.]+$/.test(value) ? `${name}=${value}` : `${name}="${value}"`,
      );
      return [`<${target}>`, ...parts].join(';');
    })
    .join(',');
}
