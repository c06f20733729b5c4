// CI check: the shared core stays runtime-free. Only runtime adapters may import a `cloudflare:`
// module (`cloudflare:workers`, `cloudflare:sockets`, ...), touch the `Deno` global or use workerd's
// own globals (`WebSocketPair`, `WebSocketRequestResponsePair`); everything else runs on
// web-standard APIs.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SRC = join(ROOT, "src");

/** Where runtime code lives: one folder per runtime. */
const RUNTIMES = "src/runtimes/";
/**
 * Runtime adapters outside src/runtimes/: none. Each entry must still exist (a test below fails
 * otherwise), so nothing can be listed here and forgotten.
 */
const NOT_YET_MOVED: string[] = [];

/** Globals that exist only on one runtime. */
const RUNTIME_GLOBALS = new Set(["Deno", "WebSocketPair", "WebSocketRequestResponsePair"]);

/** Runtime-specific uses in TypeScript source, from its syntax tree (comments and strings that only mention them don't count). */
function runtimeUses(source: string): string[] {
	const file = ts.createSourceFile("check.ts", source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
	const found: string[] = [];
	const visit = (node: ts.Node): void => {
		if (ts.isIdentifier(node) && RUNTIME_GLOBALS.has(node.text)) found.push(node.text);
		// globalThis["Deno"], self["WebSocketPair"]: a runtime global reached by name.
		if (ts.isStringLiteral(node) && RUNTIME_GLOBALS.has(node.text) && ts.isElementAccessExpression(node.parent)) found.push(node.text);
		if (ts.isStringLiteral(node) && node.text.startsWith("cloudflare:")) {
			const parent = node.parent;
			const imported =
				ts.isImportDeclaration(parent) ||
				ts.isExportDeclaration(parent) ||
				(ts.isCallExpression(parent) &&
					(parent.expression.kind === ts.SyntaxKind.ImportKeyword ||
						(ts.isIdentifier(parent.expression) && parent.expression.text === "require"))) ||
				ts.isExternalModuleReference(parent) ||
				ts.isLiteralTypeNode(parent);
			if (imported) found.push(node.text);
		}
		ts.forEachChild(node, visit);
	};
	visit(file);
	return found;
}

function sources(dir: string): string[] {
	return readdirSync(dir).flatMap((name) => {
		const path = join(dir, name);
		if (statSync(path).isDirectory()) return sources(path);
		return /\.(ts|tsx|mts|js|mjs)$/.test(name) ? [path] : [];
	});
}

describe("runtime boundary", () => {
	it("finds runtime-specific code in the syntax tree, not in mentions", () => {
		expect(runtimeUses('import { DurableObject } from "cloudflare:workers";')).toEqual(["cloudflare:workers"]);
		expect(runtimeUses('const m = await import("cloudflare:workers");')).toEqual(["cloudflare:workers"]);
		expect(runtimeUses("const env = Deno.env.toObject();")).toEqual(["Deno"]);
		expect(runtimeUses("const { Deno: d } = globalThis as never; d;")).toEqual(["Deno"]);
		expect(runtimeUses('// Deno splits on ", "\n/* cloudflare:workers */ const s = "Deno is fine in a string";')).toEqual([]);
		// After a template literal with a substitution (a token scanner loses track there).
		const template = ["const a = `$", "{1} x`;\nconst b = () => Deno.pid;"].join("");
		expect(runtimeUses(template)).toEqual(["Deno"]);
		expect(runtimeUses('type T = typeof import("cloudflare:workers");')).toEqual(["cloudflare:workers"]);
		expect(runtimeUses('const w = require("cloudflare:workers");')).toEqual(["cloudflare:workers"]);
		expect(runtimeUses('import { connect } from "cloudflare:sockets";')).toEqual(["cloudflare:sockets"]);
		expect(runtimeUses('const d = (globalThis as any)["Deno"];')).toEqual(["Deno"]);
		expect(runtimeUses("const { 0: a, 1: b } = new WebSocketPair();")).toEqual(["WebSocketPair"]);
		expect(runtimeUses('const m = { name: "Deno", key: "cloudflare:workers" };')).toEqual([]);
	});

	it("keeps cloudflare: modules, Deno and workerd's globals out of everything but the runtime adapters", () => {
		const offenders = sources(SRC)
			.map((path) => ({ file: relative(ROOT, path).split("\\").join("/"), uses: runtimeUses(readFileSync(path, "utf8")) }))
			.filter(({ file, uses }) => uses.length > 0 && !file.startsWith(RUNTIMES) && !NOT_YET_MOVED.includes(file))
			.map(({ file, uses }) => `${file}: ${[...new Set(uses)].join(", ")}`);
		expect(offenders).toEqual([]);
	});

	it("lists only adapters that still exist outside src/runtimes/", () => {
		const missing = NOT_YET_MOVED.filter((file) => {
			try {
				return !statSync(join(ROOT, file)).isFile();
			} catch {
				return true;
			}
		});
		expect(missing, "moved to src/runtimes/? then delete these entries from NOT_YET_MOVED").toEqual([]);
	});

	it("has the Deno host in its own folder, using Deno there", () => {
		const deno = sources(join(SRC, "runtimes", "deno")).filter((path) => runtimeUses(readFileSync(path, "utf8")).includes("Deno"));
		expect(deno.length).toBeGreaterThan(0);
	});
});
