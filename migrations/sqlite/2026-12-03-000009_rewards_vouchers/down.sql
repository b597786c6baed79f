DROP TABLE vouchers;
DROP TABLE conversion_cards;
DROP TABLE conversions;
DROP TABLE conversion_settings;
DROP TABLE rewards;
