/** A minimal typed event emitter: `on` returns the function that unsubscribes. */
export class Emitter<Events extends Record<string, unknown>> {
	private readonly listeners: { [K in keyof Events]?: Set<(value: Events[K]) => void> } = {};

	on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void {
		let set = this.listeners[event];
		if (!set) {
			set = new Set();
			this.listeners[event] = set;
		}
		set.add(listener);
		return () => set.delete(listener);
	}

	emit<K extends keyof Events>(event: K, value: Events[K]): void {
		for (const listener of [...(this.listeners[event] ?? [])]) {
			try {
				listener(value);
			} catch (error) {
				// An application bug must not break delivery to the other listeners or the socket
				// logic; rethrown on its own turn, it still reaches the console or the test runner.
				queueMicrotask(() => {
					throw error;
				});
			}
		}
	}
}
