/**
 * The lifecycle of a protocol session. Greeting and negotiation happen inside `CONNECTING`; a session that ended on
 * its own waits in `DISCONNECTING` until `disconnect()` is called.
 */
export const Runstate = {
  IDLE: "IDLE",
  CONNECTING: "CONNECTING",
  RUNNING: "RUNNING",
  DISCONNECTING: "DISCONNECTING",
} as const;

export type Runstate = (typeof Runstate)[keyof typeof Runstate];

/** Every legal move, in one place: `#setState` refuses anything else, which catches lifecycle bugs early. */
export const RUNSTATE_TRANSITIONS: Readonly<Record<Runstate, readonly Runstate[]>> = {
  IDLE: ["CONNECTING", "DISCONNECTING"],
  CONNECTING: ["RUNNING", "DISCONNECTING"],
  RUNNING: ["DISCONNECTING"],
  DISCONNECTING: ["IDLE"],
};
