/**
 * Runs `task` on demand, never two at once: a call while it runs asks for one more run right after,
 * however many calls came. `idle()` resolves once no run is under way or asked for. A failing run
 * goes to `onError` and does not stop later ones.
 */
export function coalesced(task: () => Promise<void>, onError: (err: unknown) => void): { run(): void; idle(): Promise<void> } {
  let running: Promise<void> | undefined;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = task()
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const idle = async (): Promise<void> => {
    while (running) await running;
  };
  return { run, idle };
}
