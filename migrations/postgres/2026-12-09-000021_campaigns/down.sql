DROP INDEX promo_codes_unassigned;
ALTER TABLE promo_codes DROP COLUMN assigned_card_id;
DROP TABLE campaign_members;
DROP TABLE campaigns;
