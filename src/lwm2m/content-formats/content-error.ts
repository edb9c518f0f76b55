/** A payload that does not decode in the content format it claims; the message names what is wrong. */
export class Lwm2mContentError extends Error {
  override name = 'Lwm2mContentError';
}
