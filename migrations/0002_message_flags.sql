CREATE TABLE `message_flags` (
	`id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`room_id` text NOT NULL,
	`message_id` text NOT NULL,
	`seq` integer NOT NULL,
	`user_id` text NOT NULL,
	`reason` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `message_flags_once` ON `message_flags` (`message_id`,`user_id`);--> statement-breakpoint
CREATE INDEX `message_flags_room` ON `message_flags` (`client_id`,`room_id`,`id`);--> statement-breakpoint
-- The message.flagged webhook event, in the flag's own transaction (see 0001_webhooks.sql).
CREATE TRIGGER `webhook_message_flagged` AFTER INSERT ON `message_flags`
WHEN EXISTS (SELECT 1 FROM `webhook_clients` WHERE `client_id` = NEW.`client_id`)
BEGIN
	INSERT INTO `webhook_outbox` (`id`, `client_id`, `type`, `room_id`, `data`, `created_at`)
	VALUES ('evt_' || lower(hex(randomblob(16))), NEW.`client_id`, 'message.flagged', NEW.`room_id`,
		json_object('id', NEW.`id`, 'room_id', NEW.`room_id`, 'message_id', NEW.`message_id`, 'seq', NEW.`seq`, 'user_id', NEW.`user_id`, 'reason', NEW.`reason`, 'created_at', NEW.`created_at`),
		NEW.`created_at`);
END;
