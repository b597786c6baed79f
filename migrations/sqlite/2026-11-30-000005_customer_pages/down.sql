ALTER TABLE customers DROP COLUMN erased_at;
DROP TABLE customer_sessions;
DROP TABLE customer_logins;
