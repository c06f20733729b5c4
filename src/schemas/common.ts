import { z } from "zod";

/** Ids are UUIDs (v7, so they sort by creation time). */
export const Id = z.uuid();
/**
 * Text that SQLite stores as given. A lone UTF-16 surrogate has no UTF-8 form and would
 * come back as U+FFFD, so what was acknowledged would differ from what is read back.
 */
export const wellFormed = (value: string) => !/\p{Cs}/u.test(value);
export const WellFormedText = { message: "must be well-formed Unicode (no lone surrogates)" };

export const Timestamp = z.iso.datetime().meta({ description: "ISO 8601 time in UTC" });

/** Keyset pagination: pass `next_cursor` from one page as `cursor` for the next. */
export const PageQuery = z.object({
	limit: z.coerce.number().int().min(1).optional().meta({ description: "Page size (default 50, clamped to 200)" }),
	cursor: z.uuid().optional().meta({ description: "`next_cursor` of the previous page" }),
});

export const ErrorBody = z
	.object({
		error: z.object({
			code: z.string().meta({ description: "Stable machine-readable code, e.g. `validation_failed`, `not_found`" }),
			message: z.string(),
			fields: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
			retry_after_ms: z
				.number()
				.int()
				.positive()
				.optional()
				.meta({ description: "Slow mode (`rate_limited`): how long to wait before sending again; also as `Retry-After` in seconds" }),
		}),
	})
	.meta({ id: "Error" });
