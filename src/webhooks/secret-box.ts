/**
 * Endpoint secrets at rest: AES-256-GCM under a key derived with HKDF-SHA256 from the operator's
 * WEBHOOK_ENCRYPTION_KEY (or JWT_SECRET when that is unset). We must sign with the secret itself,
 * so it is encrypted, not hashed. The endpoint id is the associated data: a ciphertext copied
 * onto another endpoint does not decrypt.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const VERSION = "v1";

const b64 = (bytes: Uint8Array): string => {
	let binary = "";
	for (const b of bytes) binary += String.fromCharCode(b);
	return btoa(binary);
};
const unb64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export class SecretBox {
	private constructor(private readonly key: CryptoKey) {}

	static async fromOperatorSecret(operatorSecret: string): Promise<SecretBox> {
		const material = await crypto.subtle.importKey("raw", encoder.encode(operatorSecret), "HKDF", false, ["deriveKey"]);
		const key = await crypto.subtle.deriveKey(
			{ name: "HKDF", hash: "SHA-256", salt: encoder.encode("roomkit-webhooks"), info: encoder.encode("endpoint-secret v1") },
			material,
			{ name: "AES-GCM", length: 256 },
			false,
			["encrypt", "decrypt"],
		);
		return new SecretBox(key);
	}

	/** `v1.<iv>.<ciphertext>`, both base64. */
	async seal(plaintext: string, boundTo: string): Promise<string> {
		const iv = crypto.getRandomValues(new Uint8Array(12));
		const sealed = await crypto.subtle.encrypt(
			{ name: "AES-GCM", iv, additionalData: encoder.encode(boundTo) },
			this.key,
			encoder.encode(plaintext),
		);
		return `${VERSION}.${b64(iv)}.${b64(new Uint8Array(sealed))}`;
	}

	/** Throws when the key or the binding differs (a changed operator secret, a copied ciphertext). */
	async open(sealed: string, boundTo: string): Promise<string> {
		const [version, iv, data] = sealed.split(".");
		if (version !== VERSION || !iv || !data) throw new Error("unknown sealed secret format");
		const plain = await crypto.subtle.decrypt(
			{ name: "AES-GCM", iv: unb64(iv), additionalData: encoder.encode(boundTo) },
			this.key,
			unb64(data),
		);
		return decoder.decode(plain);
	}
}
