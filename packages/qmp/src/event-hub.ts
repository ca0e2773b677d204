/**
 * The client's registry of event listeners: every event goes to every registered listener, synchronously and in
 * wire order, from the same handler that resolves replies (so an event that arrives before a reply is delivered
 * before that reply's command resolves). One-shot waits (`waitForEvent`) fail when the session ends instead of
 * waiting for an event that can no longer come.
 *
 * @module
 */

import { ConnectionClosedError } from "@qmpkit/protocol-core";
import { EventListener, kAttach, kDeliver, kDetach, kEnd, type ListenerOwner } from "./events.ts";
import { type EventLike, type QMPEvent, type QMPMessage, toEvent } from "./messages.ts";
import type { WaitForEventOptions } from "./options.ts";

export class EventHub implements ListenerOwner {
  readonly #listeners = new Set<EventListener<never>>();
  /** waitForEvent() listeners: they fail when the session ends rather than wait forever. */
  readonly #oneShots = new Set<EventListener<never>>();
  #default: EventListener<QMPEvent> | undefined;

  /**
   * The client's default listener (every event). It is made when first asked for, or before the first event is
   * delivered or another listener added, so it buffers every event and is served first, as if made with the hub.
   */
  get defaultListener(): EventListener<QMPEvent> {
    return this.#default ?? this.#makeDefault();
  }

  #makeDefault(): EventListener<QMPEvent> {
    const listener = new EventListener<QMPEvent>();
    this.#default = listener;
    this.#listeners.add(listener as unknown as EventListener<never>);
    listener[kAttach](this);
    return listener;
  }

  /** Registers a listener (re-opening it if it was closed). */
  add(listener: EventListener<never>): void {
    if (this.#default === undefined) this.#makeDefault();
    this.#listeners.add(listener);
    listener[kAttach](this);
  }

  /** Unregisters and closes a listener. */
  removeListener(listener: EventListener<never>): void {
    if (!this.#listeners.delete(listener)) return;
    listener[kDetach]();
    listener.close();
  }

  /** Hands an event message to every listener; anything that is not a well-formed event is ignored. */
  deliver(message: QMPMessage): void {
    const event = toEvent(message);
    if (event === undefined) return;
    if (this.#default === undefined) this.#makeDefault();
    for (const listener of this.#listeners) listener[kDeliver](event);
  }

  /** The next event named `name` (and accepted by `filter`), on a listener registered now. */
  async waitFor(name: string, options: WaitForEventOptions<never>): Promise<EventLike> {
    const listener = new EventListener<never>({ names: [name], filter: options.filter, highWaterMark: 1 });
    this.add(listener);
    this.#oneShots.add(listener);
    try {
      return await listener.get({ signal: options.signal, timeoutMs: options.timeoutMs });
    } finally {
      this.#oneShots.delete(listener);
      this.removeListener(listener);
    }
  }

  /** The session ended: every one-shot wait fails with a {@link ConnectionClosedError}. */
  endOneShots(error: unknown): void {
    // Most sessions end with no wait: skip the copy (a Set spread's first use costs a compiled CLI ~0.05 ms).
    if (this.#oneShots.size === 0) return;
    const oneShots = [...this.#oneShots];
    this.#oneShots.clear();
    for (const listener of oneShots) {
      const names = listener.names === undefined ? "event" : [...listener.names].join("/");
      listener[kEnd](
        new ConnectionClosedError(
          `The session ended before ${names} arrived`,
          error === undefined ? {} : { cause: error },
        ),
      );
    }
  }
}
