/** What a Durable Object namespace offers the code that calls objects: `idFromName` and `get`. */
export interface ObjectId {
	readonly name: string;
	toString(): string;
}

/**
 * One object per name in this process, created on first use, behind stubs that behave like
 * workerd's RPC stubs: every call is asynchronous, and arguments and results are copies
 * (structured clone), so no caller shares mutable state with an object.
 */
export class InProcessNamespace<T extends object> {
	private readonly objects = new Map<string, T>();
	private readonly stubs = new Map<string, T>();

	constructor(
		private readonly create: (name: string) => T,
		private readonly methods: readonly string[],
	) {}

	idFromName(name: string): ObjectId {
		return { name, toString: () => name };
	}

	get(id: ObjectId): T {
		let stub = this.stubs.get(id.name);
		if (!stub) {
			const target = () => this.object(id.name) as Record<string, (...args: unknown[]) => unknown>;
			const calls: Record<string, unknown> = {};
			for (const method of this.methods) {
				calls[method] = async (...args: unknown[]) => {
					const result = await target()[method]?.(...structuredClone(args));
					return result === undefined ? undefined : structuredClone(result);
				};
			}
			// The upgrade hands over the client's request itself (it cannot be cloned, and must not be copied).
			calls.upgrade = (forwarded: Request, original: Request) => target().upgrade?.(forwarded, original);
			stub = calls as T;
			this.stubs.set(id.name, stub);
		}
		return stub;
	}

	/** The object itself, created on first use. */
	object(name: string): T {
		let object = this.objects.get(name);
		if (!object) {
			object = this.create(name);
			this.objects.set(name, object);
		}
		return object;
	}

	all(): T[] {
		return [...this.objects.values()];
	}
}
