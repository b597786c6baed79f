DROP TABLE tier_rules;
