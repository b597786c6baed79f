-- Nothing to undo: the primary key keeps the column NOT NULL (DROP NOT NULL would be refused).
SELECT 1;
