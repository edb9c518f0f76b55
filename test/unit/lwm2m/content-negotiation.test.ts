import { describe, expect, it } from 'vitest';
import { ContentFormat } from '../../../src/lwm2m/content-formats';
import { parseLinkFormat } from '../../../src/lwm2m/content-formats/link-format';
import { acceptFormats, announcedFormats } from '../../../src/lwm2m/content-negotiation';

const client = (lwm2mVersion: string, links: string) => ({
  lwm2mVersion,
  objectLinks: parseLinkFormat(links),
});

describe('content negotiation', () => {
  it('reads the formats a client announces on its root link, keeping those otaflow decodes', () => {
    expect(announcedFormats(parseLinkFormat('</>;rt="oma.lwm2m";ct=110,</3/0>'))).toEqual([110]);
    expect(announcedFormats(parseLinkFormat('</lwm2m>;rt="oma.lwm2m";ct="112 11542",</3/0>'))).toEqual([
      11542,
    ]);
    expect(announcedFormats(parseLinkFormat('</3/0>;ct=110'))).toEqual([]);
    expect(announcedFormats(parseLinkFormat('</1/0>,</3/0>'))).toEqual([]);
  });

  it('asks for text/plain first for a single resource, then the announced or the version default', () => {
    expect(acceptFormats(client('1.1', '</>;ct=110,</3/0>'), '/3/0/3')).toEqual([
      ContentFormat.plainText,
      ContentFormat.senmlJson,
    ]);
    expect(acceptFormats(client('1.1', '</>;ct=11542,</3/0>'), '/3/0/3')).toEqual([
      ContentFormat.plainText,
      ContentFormat.tlv,
    ]);
    expect(acceptFormats(client('1.0', '</3/0>'), '/3/0/3')).toEqual([
      ContentFormat.plainText,
      ContentFormat.tlv,
    ]);
    expect(acceptFormats(client('1.2', '</3/0>'), '/5/0/3')).toEqual([
      ContentFormat.plainText,
      ContentFormat.senmlJson,
    ]);
  });

  it('asks for the announced format first for an instance or object, then the other multi-value format', () => {
    expect(acceptFormats(client('1.1', '</>;ct=11542,</4/0>'), '/4/0')).toEqual([
      ContentFormat.tlv,
      ContentFormat.senmlJson,
    ]);
    expect(acceptFormats(client('1.1', '</4/0>'), '/4/0')).toEqual([
      ContentFormat.senmlJson,
      ContentFormat.tlv,
    ]);
    expect(acceptFormats(client('1.0', '</4/0>'), '/4')).toEqual([
      ContentFormat.tlv,
      ContentFormat.senmlJson,
    ]);
  });
});
