/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address → the host. */
export function hostOf(hostAndPort: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(hostAndPort);
  if (bracketed?.[1]) return bracketed[1];
  return hostAndPort.split(':').length === 2 ? (hostAndPort.split(':')[0] ?? '') : hostAndPort;
}

/** `host:port`, an IPv6 host in brackets. */
export function withPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
