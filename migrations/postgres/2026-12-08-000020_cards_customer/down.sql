DROP INDEX cards_customer;
