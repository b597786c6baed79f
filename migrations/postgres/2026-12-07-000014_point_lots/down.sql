DROP TABLE expiry_reminders;
DROP TABLE expiry_rules;
DROP TABLE point_lots;
