// cmd_res: the terminal's answer to a remote command (PROTOCOL section 6).
import type { CmdResFrame } from '../../protocol/frames.js';
import type { CommandRouter } from '../commands.js';
import type { Socket } from '../session.js';

export function handleCmdRes(ws: Socket, frame: CmdResFrame, commands: CommandRouter): void {
  const s = ws.getUserData();
  if (!commands.resolve(s.device.id, frame)) s.log.warn({ id: frame.id }, 'cmd_res for no pending command');
}
