import { describe, expect, it } from 'vitest';
import { isBlockedAddress } from '../../lib/network.ts';

describe('isBlockedAddress', () => {
  it.each([
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '198.18.0.1', '224.0.0.1', '240.0.0.1', '255.255.255.255',
    '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::FFFF:10.0.0.1',
    '64:ff9b::7f00:1', 'not an ip', '',
    // Documentation, discard and Teredo ranges.
    '192.0.2.1', '198.51.100.7', '203.0.113.9', '2001:db8::1', '100::1', '2001:0:4136:e378::1',
  ])('blocks %j', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '::ffff:8.8.8.8', '2606:4700:4700::1111', '192.0.3.1', '203.0.114.1', '2001:4860:4860::8888'])('allows %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });
});
