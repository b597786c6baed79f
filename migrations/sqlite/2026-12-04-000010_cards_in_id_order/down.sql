DROP INDEX cards_program_id;
