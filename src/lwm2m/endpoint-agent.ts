/**
 * The CoAP client of a gateway socket that talks to thousands of devices. node-coap's Agent finds
 * the request a message answers by its message ID alone, but a message ID is only unique per
 * endpoint (RFC 7252 §4.4): every device numbers its own messages. A device's notification whose ID
 * equalled a pending request to another device was acknowledged and then dropped for its token, and
 * a device's ACK could stop another device's retransmissions, and a result could be lost
 * (BENCHMARKS.md). Here a message ID only
 * matches a request sent to the endpoint the message came from; any other message is matched by its
 * token.
 */
import type { AddressInfo } from 'node:net';
import { Agent, type OutgoingMessage } from 'coap';
import type { ParsedPacket } from 'coap-packet';

export class EndpointAgent extends Agent {
  override _handle(packet: ParsedPacket, rsinfo: AddressInfo, outSocket: AddressInfo): void {
    const { messageId } = packet;
    const request = this._msgIdToReq.get(messageId);
    if (request === undefined || sentTo(request, rsinfo)) {
      super._handle(packet, rsinfo, outSocket);
      return;
    }
    this._msgIdToReq.delete(messageId);
    try {
      super._handle(packet, rsinfo, outSocket);
    } finally {
      if (!this._msgIdToReq.has(messageId)) this._msgIdToReq.set(messageId, request);
    }
  }
}

function sentTo(request: OutgoingMessage, sender: AddressInfo): boolean {
  const host = request.url.hostname ?? request.url.host;
  return host === sender.address && Number(request.url.port) === sender.port;
}
