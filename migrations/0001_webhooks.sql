CREATE TABLE `webhook_clients` (
	`client_id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `webhook_outbox` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`client_id` text NOT NULL,
	`type` text NOT NULL,
	`room_id` text,
	`data` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_outbox_client` ON `webhook_outbox` (`client_id`,`seq`);--> statement-breakpoint
-- Directory events for the webhook outbox, written by triggers so that an event is stored in
-- the very transaction (D1 batch or directory-object transactionSync) as the change itself, and
-- only for clients with webhook endpoints. `data` holds the changed row; the dispatcher presents it.
CREATE TRIGGER `webhook_user_created` AFTER INSERT ON `users`
WHEN EXISTS (SELECT 1 FROM `webhook_clients` WHERE `client_id` = NEW.`client_id`)
BEGIN
	INSERT INTO `webhook_outbox` (`id`, `client_id`, `type`, `room_id`, `data`, `created_at`)
	VALUES ('evt_' || lower(hex(randomblob(16))), NEW.`client_id`, 'user.created', NULL,
		json_object('id', NEW.`id`, 'name', NEW.`name`, 'metadata', NEW.`metadata`, 'created_at', NEW.`created_at`), NEW.`created_at`);
END;
--> statement-breakpoint
CREATE TRIGGER `webhook_room_created` AFTER INSERT ON `rooms`
WHEN EXISTS (SELECT 1 FROM `webhook_clients` WHERE `client_id` = NEW.`client_id`)
BEGIN
	INSERT INTO `webhook_outbox` (`id`, `client_id`, `type`, `room_id`, `data`, `created_at`)
	VALUES ('evt_' || lower(hex(randomblob(16))), NEW.`client_id`, 'room.created', NEW.`id`,
		json_object('id', NEW.`id`, 'name', NEW.`name`, 'private', NEW.`private`, 'created_by', NEW.`created_by`, 'created_at', NEW.`created_at`), NEW.`created_at`);
END;
--> statement-breakpoint
CREATE TRIGGER `webhook_member_added` AFTER INSERT ON `memberships`
WHEN EXISTS (SELECT 1 FROM `webhook_clients` WHERE `client_id` = NEW.`client_id`)
BEGIN
	INSERT INTO `webhook_outbox` (`id`, `client_id`, `type`, `room_id`, `data`, `created_at`)
	VALUES ('evt_' || lower(hex(randomblob(16))), NEW.`client_id`, 'member.added', NEW.`room_id`,
		json_object('room_id', NEW.`room_id`, 'user_id', NEW.`user_id`, 'created_at', NEW.`created_at`), NEW.`created_at`);
END;
--> statement-breakpoint
CREATE TRIGGER `webhook_member_removed` AFTER DELETE ON `memberships`
WHEN EXISTS (SELECT 1 FROM `webhook_clients` WHERE `client_id` = OLD.`client_id`)
BEGIN
	INSERT INTO `webhook_outbox` (`id`, `client_id`, `type`, `room_id`, `data`, `created_at`)
	VALUES ('evt_' || lower(hex(randomblob(16))), OLD.`client_id`, 'member.removed', OLD.`room_id`,
		json_object('room_id', OLD.`room_id`, 'user_id', OLD.`user_id`, 'created_at', OLD.`created_at`),
		CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
