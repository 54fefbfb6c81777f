/** The server requests a device answers on `response/<id>` (docs/PROTOCOL.md, "Server requests"). */
export const CMD = { read: 0, write: 1, discover: 2, writeAttrs: 3, execute: 4, observe: 5, ping: 7 } as const;
export type CommandName = keyof typeof CMD;
