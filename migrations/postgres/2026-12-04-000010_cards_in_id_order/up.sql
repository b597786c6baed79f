-- Batches over a programme's cards (season conversions, pass refreshes) walk them in id order
-- after a cursor: with this index each chunk starts where the last one ended, whatever the
-- number of programmes sharing the table, and without relying on fresh statistics.
CREATE INDEX cards_program_id ON cards (program_id, id);
