import { describe, expect, it } from 'vitest';
import {
  ContentFormat,
  contentFormatNumber,
  decodeContent,
  encodeResourceWrite,
  Lwm2mContentError,
} from '../../../src/lwm2m/content-formats';
import { formatLinkFormat, parseLinkFormat } from '../../../src/lwm2m/content-formats/link-format';
import { decodeSenmlJson, encodeSenmlJson } from '../../../src/lwm2m/content-formats/senml-json';
import { decodeTlv, encodeTlv, parseTlv, serializeTlv } from '../../../src/lwm2m/content-formats/tlv';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const ascii = (text: string) => Buffer.from(text).toString('hex');

// OMA-TS-LightweightM2M-V1_0 §6.4.3.1, "Single Object Instance Request Example": Read /3/0.
const deviceInstanceTlv = hex(`
  C8 00 14 ${ascii('Open Mobile Alliance')}
  C8 01 16 ${ascii('Lightweight M2M Client')}
  C8 02 09 ${ascii('345000123')}
  C3 03 ${ascii('1.0')}
  86 06 41 00 01 41 01 05
  88 07 08 42 00 0E D8 42 01 13 88
  87 08 41 00 7D 42 01 03 84
  C1 09 64
  C1 0A 0F
  83 0B 41 00 00
  C4 0D 51 82 42 8F
  C6 0E ${ascii('+02:00')}
  C1 10 55`);

const deviceInstanceValues = {
  '/3/0/0': 'Open Mobile Alliance',
  '/3/0/1': 'Lightweight M2M Client',
  '/3/0/2': '345000123',
  '/3/0/3': '1.0',
  '/3/0/6/0': 1,
  '/3/0/6/1': 5,
  '/3/0/7/0': 3800,
  '/3/0/7/1': 5000,
  '/3/0/8/0': 125,
  '/3/0/8/1': 900,
  '/3/0/9': 100,
  '/3/0/10': 15,
  '/3/0/11/0': 0,
  '/3/0/13': 1367491215,
  '/3/0/14': '+02:00',
  '/3/0/16': 'U',
};

describe('TLV', () => {
  it('decodes the TS example of reading the Device object instance', () => {
    expect(decodeTlv(deviceInstanceTlv, '/3/0')).toEqual(deviceInstanceValues);
  });

  it('re-encodes the TS example byte for byte', () => {
    expect(serializeTlv(parseTlv(deviceInstanceTlv)).equals(deviceInstanceTlv)).toBe(true);
    expect(encodeTlv(deviceInstanceValues).toString('hex')).toBe(deviceInstanceTlv.toString('hex'));
  });

  it('decodes a single resource, a resource instance, and object instances of a whole object', () => {
    expect(decodeTlv(hex(`C3 03 ${ascii('2.1')}`), '/3/0/3')).toEqual({ '/3/0/3': '2.1' });
    expect(decodeTlv(hex('41 01 05'), '/3/0/6/1')).toEqual({ '/3/0/6/1': 5 });
    // Object 4, two instances: Radio Signal Strength -105 dBm (1 byte), Cell ID 0x01020304 (4 bytes).
    const payload = hex('08 00 09 C1 02 97 C4 08 01 02 03 04 08 01 03 C1 0B FE');
    expect(decodeTlv(payload, '/4')).toEqual({ '/4/0/2': -105, '/4/0/8': 16909060, '/4/1/11': -2 });
  });

  it('uses 16-bit ids and long lengths when needed', () => {
    const longUri = `coap://gw.example:5683/fw/${'p'.repeat(300)}/0123456789abcdef`;
    const encoded = encodeTlv({ '/5/0/1': longUri });
    expect(encoded[0]).toBe(0xd0); // resource, 8-bit id, 16-bit length
    expect(decodeTlv(encoded, '/5/0/1')).toEqual({ '/5/0/1': longUri });
    expect(parseTlv(serializeTlv([{ kind: 'resource', id: 300, value: Buffer.of(1) }]))[0]).toMatchObject({
      id: 300,
    });
  });

  it('refuses truncated and ill-typed input with a message naming the problem', () => {
    expect(() => decodeTlv(hex('C8 00 14 41 42'), '/3/0')).toThrow(/truncated.*value/);
    expect(() => decodeTlv(hex('C3 09 01 02 03'), '/3/0')).toThrow(
      /\/3\/0\/9: an integer must be 1, 2, 4 or 8 bytes/,
    );
    expect(() => decodeTlv(hex('C8'), '/3/0')).toThrow(Lwm2mContentError);
  });
});

describe('SenML JSON', () => {
  // OMA-TS-LightweightM2M_Core-V1_1 §7.4.4, the same Device object instance read as SenML JSON.
  const example = JSON.stringify([
    { bn: '/3/0/', n: '0', vs: 'Open Mobile Alliance' },
    { n: '1', vs: 'Lightweight M2M Client' },
    { n: '2', vs: '345000123' },
    { n: '3', vs: '1.0' },
    { n: '6/0', v: 1 },
    { n: '6/1', v: 5 },
    { n: '7/0', v: 3800 },
    { n: '7/1', v: 5000 },
    { n: '8/0', v: 125 },
    { n: '8/1', v: 900 },
    { n: '9', v: 100 },
    { n: '10', v: 15 },
    { n: '11/0', v: 0 },
    { n: '13', v: 1367491215 },
    { n: '14', vs: '+02:00' },
    { n: '16', vs: 'U' },
  ]);

  it('decodes the TS example', () => {
    expect(decodeSenmlJson(Buffer.from(example))).toEqual(deviceInstanceValues);
  });

  it('round-trips values of every kind', () => {
    const values = {
      '/5/0/3': 2,
      '/5/0/1': 'coap://h/fw/1/ab',
      '/9/0/12': true,
      '/9/0/5': '3:0',
      '/5/0/0': 'AAEC',
    };
    expect(decodeSenmlJson(encodeSenmlJson(values))).toEqual(values);
  });

  it('refuses malformed records', () => {
    expect(() => decodeSenmlJson(Buffer.from('{"n":"x"}'))).toThrow(/not an array/);
    expect(() => decodeSenmlJson(Buffer.from('[{"n":"/3/0/3"}]'))).toThrow(/record 0 has no value/);
    expect(() => decodeSenmlJson(Buffer.from('[{"n":"/3/x/3","v":1}]'))).toThrow(/record 0: '\/3\/x\/3'/);
    expect(() => decodeSenmlJson(Buffer.from('[{'))).toThrow(/not valid JSON/);
  });
});

describe('LwM2M JSON (1.0)', () => {
  it('decodes the TS 1.0 example, names relative to bn or to the request path', () => {
    const example = {
      bn: '/3/0/',
      e: [
        { n: '0', sv: 'Open Mobile Alliance' },
        { n: '6/0', v: 1 },
        { n: '13', v: 1367491215 },
        { n: '16', sv: 'U' },
      ],
    };
    expect(decodeContent(ContentFormat.omaJson, Buffer.from(JSON.stringify(example)), '/3/0')).toEqual({
      '/3/0/0': 'Open Mobile Alliance',
      '/3/0/6/0': 1,
      '/3/0/13': 1367491215,
      '/3/0/16': 'U',
    });
    expect(decodeContent(ContentFormat.omaJson, Buffer.from('{"e":[{"n":"3","sv":"1.0"}]}'), '/3/0')).toEqual(
      {
        '/3/0/3': '1.0',
      },
    );
  });

  it('refuses malformed documents with a message naming the problem', () => {
    const decode = (text: string) => () => decodeContent(ContentFormat.omaJson, Buffer.from(text), '/3/0');
    expect(decode('[')).toThrow(/not valid JSON/);
    expect(decode('[]')).toThrow(/not an object/);
    expect(decode('{"bn":"/3/0/"}')).toThrow(/e \(the entries\) is not an array/);
    expect(decode('{"e":[{"n":"3"}]}')).toThrow(/entry 0 has no value/);
    expect(decode('{"e":[{"n":"x","v":1}]}')).toThrow(/entry 0: '\/3\/0\/x'/);
  });
});

describe('plain text, opaque and the dispatcher', () => {
  it('decodes by the resource type the object model gives', () => {
    expect(decodeContent(ContentFormat.plainText, Buffer.from('-97'), '/4/0/2')).toEqual({ '/4/0/2': -97 });
    expect(decodeContent(ContentFormat.plainText, Buffer.from('1.2.3'), '/3/0/3')).toEqual({
      '/3/0/3': '1.2.3',
    });
    expect(decodeContent(ContentFormat.plainText, Buffer.from('1'), '/9/0/12')).toEqual({ '/9/0/12': true });
    expect(decodeContent(ContentFormat.opaque, Buffer.of(1, 2), '/5/0/0')).toEqual({ '/5/0/0': 'AQI=' });
  });

  it('refuses text that does not fit the resource type, and unknown formats', () => {
    expect(() => decodeContent(ContentFormat.plainText, Buffer.from('strong'), '/4/0/2')).toThrow(
      "/4/0/2: 'strong' is not an integer",
    );
    expect(() => decodeContent(ContentFormat.plainText, Buffer.from('1'), '/4/0')).toThrow(
      /one resource value/,
    );
    expect(() => decodeContent(60, Buffer.of(0), '/3/0/3')).toThrow(/content format 60/);
  });

  it('maps node-coap Content-Format headers to numbers', () => {
    expect(contentFormatNumber('application/vnd.oma.lwm2m+tlv')).toBe(11542);
    expect(contentFormatNumber(1542)).toBe(1542);
    expect(contentFormatNumber(undefined)).toBe(0);
    expect(() => contentFormatNumber('application/xml')).toThrow(/unsupported content format/);
  });

  it('writes TLV to 1.0 clients and plain text to later ones', () => {
    const uri = 'coap://gw/fw/p/0123456789abcdef';
    const tlv = encodeResourceWrite('/5/0/1', uri, '1.0');
    expect(tlv.contentFormat).toBe(11542);
    expect(decodeContent(tlv.contentFormat, tlv.payload, '/5/0/1')).toEqual({ '/5/0/1': uri });
    expect(encodeResourceWrite('/5/0/1', uri, '1.1')).toEqual({
      contentFormat: 0,
      payload: Buffer.from(uri),
    });
  });
});

describe('CoRE link format', () => {
  it('parses a registration payload with attributes and quoted values', () => {
    const links = parseLinkFormat(
      '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</5/0>;ver=1.1, </9>;title="a,b;c"',
    );
    expect(links).toEqual([
      { target: '/', attributes: { rt: 'oma.lwm2m', ct: '11543' } },
      { target: '/1/0', attributes: {} },
      { target: '/3/0', attributes: {} },
      { target: '/5/0', attributes: { ver: '1.1' } },
      { target: '/9', attributes: { title: 'a,b;c' } },
    ]);
    expect(parseLinkFormat(formatLinkFormat(links))).toEqual(links);
  });

  it('refuses malformed links', () => {
    expect(() => parseLinkFormat('/1/0>')).toThrow(/expected '<' at character 0/);
    expect(() => parseLinkFormat('</1/0;ver=1')).toThrow(/no closing '>'/);
    expect(() => parseLinkFormat('</1/0> </3/0>')).toThrow(/expected ','/);
  });
});
