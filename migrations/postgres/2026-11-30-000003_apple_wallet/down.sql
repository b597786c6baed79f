DROP TABLE pass_design_versions;
ALTER TABLE programs DROP COLUMN pass_design;
DROP TABLE apple_registrations;
DROP INDEX cards_link_token;
ALTER TABLE cards DROP COLUMN link_token;
ALTER TABLE cards DROP COLUMN pass_updated_at;
ALTER TABLE cards DROP COLUMN pass_seq;
