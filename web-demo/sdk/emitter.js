// A small typed event emitter: `on` returns a function that removes the listener. A
// listener that throws is reported (console.error) and does not stop the others, so one
// broken view cannot make the connection lose frames.

/**
 * @template {Record<string, any[]>} Events map of event name to listener arguments
 */
export class Emitter {
  /** @type {Map<keyof Events, Set<(...args: any[]) => void>>} */
  #listeners = new Map();

  /**
   * @template {keyof Events} K
   * @param {K} type
   * @param {(...args: Events[K]) => void} listener
   * @returns {() => void} removes the listener
   */
  on(type, listener) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => this.off(type, listener);
  }

  /**
   * @template {keyof Events} K
   * @param {K} type
   * @param {(...args: Events[K]) => void} listener
   */
  off(type, listener) {
    this.#listeners.get(type)?.delete(listener);
  }

  /**
   * The next `type` event whose arguments pass `filter`, as a promise of its arguments.
   * @template {keyof Events} K
   * @param {K} type
   * @param {{filter?: (...args: Events[K]) => boolean, signal?: AbortSignal}} [options]
   * @returns {Promise<Events[K]>}
   */
  once(type, { filter, signal } = {}) {
    return new Promise((resolve, reject) => {
      const off = this.on(type, (...args) => {
        if (filter && !filter(...args)) return;
        off();
        resolve(args);
      });
      signal?.addEventListener('abort', () => {
        off();
        reject(signal.reason);
      }, { once: true });
    });
  }

  /**
   * @protected
   * @template {keyof Events} K
   * @param {K} type
   * @param {Events[K]} args
   */
  emit(type, ...args) {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        console.error(`livecart: a "${String(type)}" listener threw`, error);
      }
    }
  }
}
