import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

// Addresses a webhook must never reach unless the operator allows private networks: loopback,
// private, link-local (cloud metadata), CGNAT, benchmarking, documentation, multicast, reserved,
// and IPv6 kin (including the NAT64, 6to4 and Teredo forms that carry an IPv4 address).
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 96], ['::ffff:0:0:0', 96], ['100::', 64], ['2001::', 32], ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10],
  ['ff00::', 8], ['64:ff9b::', 96], ['64:ff9b:1::', 48],
] as const) blocked.addSubnet(net, prefix, 'ipv6');

export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    // IPv4-mapped (::ffff:a.b.c.d) is judged as the IPv4 address it carries.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return blocked.check(mapped[1]!, 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return blocked.check(address, 'ipv4');
}

/** Which addresses deliveries may connect to: public ones, plus what the operator opened. */
export interface NetworkPolicy {
  /** ALLOW_PRIVATE_NETWORK: every address, for development. */
  allowPrivateNetwork: boolean;
  /** ALLOWED_NETWORKS: CIDRs opened even though they are private or reserved. */
  allowedNetworks: string[];
}

/** Parses `10.0.0.0/8, fd00::/8` into a BlockList; each bad entry gets its own problem line. */
export function parseCidrs(cidrs: readonly string[]): { list: BlockList; problems: string[] } {
  const list = new BlockList();
  const problems: string[] = [];
  for (const cidr of cidrs) {
    const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
    const family = match ? isIP(match[1]!) : 0;
    const prefix = match ? Number(match[2]) : -1;
    if (!match || family === 0 || prefix > (family === 4 ? 32 : 128)) {
      problems.push(`${cidr} is not a CIDR such as 10.0.0.0/8 or fd00::/8`);
      continue;
    }
    list.addSubnet(match[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return { list, problems };
}

/** Whether the policy lets a delivery connect to an IP address; the allowlist is parsed once, here. */
export function addressPolicy(policy: NetworkPolicy): (address: string) => boolean {
  const allowlist = parseCidrs(policy.allowedNetworks).list;
  return (address) => {
    if (policy.allowPrivateNetwork || !isBlockedAddress(address)) return true;
    const family = isIP(address);
    return family !== 0 && allowlist.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

export class BlockedAddressError extends Error {
  readonly code = 'blocked_address';
  constructor(host: string, address: string) {
    super(`${host === address ? address : `${host} resolves to ${address}, which`} is a private or reserved address; ALLOW_PRIVATE_NETWORK or ALLOWED_NETWORKS can open it`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

/**
 * A `lookup` for net.connect that refuses addresses the policy blocks. The socket connects to the
 * address checked here, so a DNS answer cannot change between the check and the connection (no
 * rebinding). `resolve` is the system resolver except in tests.
 */
export function guardedLookup(policy: NetworkPolicy, resolve: Resolver = systemResolver) {
  const allowed = addressPolicy(policy);
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    resolve(hostname, (err, addresses) => {
      if (err) return callback(err, []);
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      const bad = addresses.find((a) => !allowed(a.address));
      if (bad) return callback(new BlockedAddressError(hostname, bad.address), []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}
