-- A customer's card: without this index a join from customers to cards scans every card per
-- customer on SQLite (quadratic), as the KPIs' members read did at 100,000 members.
CREATE INDEX cards_customer ON cards (customer_id);
