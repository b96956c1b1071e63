// The keyed hash a credential identifier is stored and looked up by (HMAC-SHA256, hex): the hub
// and its workers never keep a card number or PIN, only this.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/**
 * The keyed hash of one credential identifier, as `credentials.cred_hash` stores it. Everything
 * that hashes a credential goes through here, or a card would not match its own record.
 */
export function credentialHmac(key: Buffer | KeyObject, cred: string): Buffer;
export function credentialHmac(key: Buffer | KeyObject, cred: string, encoding: 'hex'): string;
export function credentialHmac(key: Buffer | KeyObject, cred: string, encoding?: 'hex'): Buffer | string {
  const h = createHmac('sha256', key).update(cred, 'utf8');
  return encoding ? h.digest(encoding) : h.digest();
}

/**
 * A credential hasher for one key. Terminals present the same credentials all day, so recent
 * ones are remembered (memory only, bounded at `max`; the oldest is forgotten first) and cost a
 * map lookup instead of an HMAC (a few microseconds each).
 */
export function credentialHasher(key: Buffer, max = 100_000): (cred: string) => string {
  const hashes = new Map<string, string>();
  const secret = createSecretKey(key); // imported once: an HMAC from a KeyObject is about 20% faster than from the Buffer
  return (cred) => {
    let h = hashes.get(cred);
    if (h === undefined) {
      h = credentialHmac(secret, cred, 'hex');
      if (hashes.size >= max) hashes.delete(hashes.keys().next().value!);
      hashes.set(cred, h);
    }
    return h;
  };
}
