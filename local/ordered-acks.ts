/**
 * When each message may be acknowledged: after its own work, and after every earlier message
 * of the same key. Were a device's later message acknowledged first, a crash would get the
 * broker to deliver only the earlier one again, and its older value would overwrite the newer.
 * An earlier message that is never acknowledged (it failed) holds back the later ones too.
 */
export class OrderedAcks {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly open = new Set<Promise<void>>();

  /** Resolves when the message may be acknowledged; rejects when it, or an earlier one, may not. */
  after(key: string, work: Promise<unknown>): Promise<void> {
    const earlier = this.tails.get(key);
    const done = Promise.all([work, earlier]).then(() => undefined);
    this.tails.set(key, done);
    this.open.add(done);
    void done
      .catch(() => undefined)
      .finally(() => {
        this.open.delete(done);
        if (this.tails.get(key) === done) this.tails.delete(key);
      });
    return done;
  }

  /** Settles when every message passed so far is acknowledged or refused. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.open]);
  }

  get size(): number {
    return this.open.size;
  }
}
