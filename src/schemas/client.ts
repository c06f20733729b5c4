import { z } from "zod";
import { Id, Timestamp } from "./common";

export const Client = z
	.object({ id: Id, name: z.string(), created_at: Timestamp })
	.meta({ id: "Client", description: "An integrating product. Its API token is never returned after creation or rotation." });

export const ClientWithToken = Client.extend({
	api_token: z.string().meta({ description: "Shown once; only its hash is stored" }),
}).meta({ id: "ClientWithToken" });

// The server chooses `id` and the token, so a create body carries only the name.
export const CreateClientBody = z.object({ name: z.string().trim().min(1).max(200) }).meta({ id: "CreateClientBody" });

export type ClientT = z.infer<typeof Client>;
