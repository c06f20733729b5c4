CREATE TABLE `room_restrictions` (
	`client_id` text NOT NULL,
	`room_id` text NOT NULL,
	`user_id` text NOT NULL,
	`kind` text NOT NULL,
	`reason` text,
	`expires_at` integer,
	`created_by` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`, `kind`)
);
--> statement-breakpoint
CREATE INDEX `room_restrictions_list` ON `room_restrictions` (`client_id`,`room_id`,`kind`,`user_id`);--> statement-breakpoint
ALTER TABLE `memberships` ADD `role` text DEFAULT 'member' NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `cooldown_seconds` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `banned_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `ban_expires_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `ban_reason` text;--> statement-breakpoint
-- Rooms created before roles existed: their creator owns them.
UPDATE `memberships` SET `role` = 'owner' WHERE EXISTS (SELECT 1 FROM `rooms` WHERE `rooms`.`id` = `memberships`.`room_id` AND `rooms`.`created_by` = `memberships`.`user_id`);
