/** Rejects if `promise` does not settle within `ms`: a bound on a wait, never a synchronisation. */
export function within<T>(promise: Promise<T>, ms = 5000, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]);
}

/** Settles with the rejection reason (or fails if the promise resolves): `expect(await rejection(p)).toBeInstanceOf(X)`. */
export async function rejection(promise: Promise<unknown>, ms = 5000): Promise<unknown> {
  try {
    const value = await within(promise, ms, "the expected rejection");
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error;
  }
}
