DROP TABLE customer_sessions;
DROP TABLE customer_logins;
