/** Server-wide settings kept in the table (shared/store/table/settings.ts). */
export interface SettingsStore {
  /** Until when (epoch ms) unknown clients may register under `LWMQN_JOIN=permit`; 0 when never. */
  getJoinUntilMs(): Promise<number>;
  setJoinUntilMs(untilMs: number): Promise<void>;
}
