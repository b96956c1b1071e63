// Remote door commands in flight (PROTOCOL section 6): each waits for its cmd_res until it expires.
import { randomUUID } from 'node:crypto';
import type { CmdResFrame } from '../protocol/frames.js';

export interface CommandResult {
  ok: boolean;
  code?: string | undefined;
  answeredAt: number;
  /** Relayed through another hub: when that hub sent it to the terminal. */
  sentAt?: number | undefined;
  /** The hub that was to relay it no longer holds the terminal's session. */
  offline?: boolean;
}

export function createCommandRouter() {
  const pending = new Map<string, { deviceId: string; resolve(r: CommandResult | null): void; timer: NodeJS.Timeout }>();
  return {
    /** Registers a command; resolves with the terminal's answer, or null when none came before `expiresAt`. */
    register(deviceId: string, expiresAt: number, id: string = randomUUID()): { id: string; result: Promise<CommandResult | null> } {
      const result = new Promise<CommandResult | null>((resolve) => {
        const timer = setTimeout(() => { pending.delete(id); resolve(null); }, Math.max(0, expiresAt - Date.now()));
        pending.set(id, { deviceId, resolve, timer });
      });
      return { id, result };
    },
    /** A cmd_res from `deviceId`; answers for another device's command are ignored. */
    resolve(deviceId: string, frame: CmdResFrame): boolean {
      const p = pending.get(frame.id);
      if (!p || p.deviceId !== deviceId) return false;
      pending.delete(frame.id);
      clearTimeout(p.timer);
      p.resolve({ ok: frame.ok, code: frame.code, answeredAt: Date.now() });
      return true;
    },
    /** An answer relayed by another hub (fleet.ts): the id alone names the command. */
    settle(id: string, result: CommandResult | null, offline: boolean): void {
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(offline ? { ok: false, offline: true, answeredAt: Date.now() } : result);
    },
    close() {
      for (const p of pending.values()) { clearTimeout(p.timer); p.resolve(null); }
      pending.clear();
    },
  };
}

export type CommandRouter = ReturnType<typeof createCommandRouter>;
